-- A TLS nginx for the specs: its own prefix in a temporary directory, a
-- self-signed certificate for localhost and 127.0.0.1 made with openssl,
-- one process, on a free port. start(locations) takes the server block's
-- location directives ("%s" in them is the directory); it returns
-- { port =, dir =, ca = (the certificate), stop = function }.
local m = require "moonlet"
local U = require "support.util"

local LOCAL = "127.0.0.1"

local CONF = [[
daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid {dir}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    {locations}
  }
}
]]

local function run(argv)
  local out, err, code = m.process.run(argv)
  assert(out and code == 0, table.concat(argv, " ") .. " failed: " .. tostring(err))
  return out
end

-- Removes path, and what is in it if it is a directory.
local function remove_tree(path)
  for _, e in ipairs(m.fs.list(path) or {}) do remove_tree(path .. "/" .. e.name) end
  os.remove(path)
end

local N = {}

function N.start(locations)
  local dir = os.tmpname()
  os.remove(dir)
  assert(m.fs.mkdir(dir))
  run({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", dir .. "/key.pem", "-out", dir .. "/cert.pem", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1" })
  local port = U.free_port()
  local conf = CONF:gsub("{(%w+)}", { dir = dir, port = tostring(port),
                                      locations = locations:gsub("%%s", dir) })
  assert(m.fs.write_file(dir .. "/nginx.conf", conf))
  local nginx = assert(m.process.spawn { "nginx", "-p", dir, "-c", dir .. "/nginx.conf", "-e", "stderr",
                                         stdout = "null", stderr = "null" })
  for _ = 1, 200 do -- until nginx listens
    local s = m.tcp.connect(LOCAL, port)
    if s then s:close(); break end
    m.sleep(0.025)
  end
  return {
    port = port, dir = dir, ca = dir .. "/cert.pem",
    stop = function()
      nginx:kill()
      nginx:wait()
      nginx:close()
      remove_tree(dir)
    end,
  }
end

return N
