#!/bin/sh
# The plaintext benchmark on nginx: one process, `return 200`, in its own
# prefix under a temporary directory. Prints the URL, then becomes nginx.
# Under /api/, the answer to bench/servers/realistic.lua's request (1 KB of
# JSON naming the query's id, three header fields).
# Usage: sh hello_nginx.sh   (picks a free port)
set -eu
dir=$(mktemp -d)
filler=$(printf 'x%.0s' $(seq 1000))
port=$(lua5.4 -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()')
cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log stderr error;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "Hello, World!"; }
    location /api/ {
      default_type application/json;
      add_header Cache-Control no-store;
      add_header X-Request-Id \$http_x_request_id;
      return 200 '{"id":"\$arg_id","items":"$filler"}';
    }
  }
}
CONF
echo "listening on http://127.0.0.1:$port/"
exec nginx -p "$dir" -c "$dir/nginx.conf" -e stderr
