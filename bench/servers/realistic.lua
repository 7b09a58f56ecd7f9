-- The realistic request of bench/io.lua, for wrk (-s): a query string and
-- ten header fields, as a browser-made API call would have. Each server
-- answers with a 1 KB JSON body naming the query's id and three header
-- fields (Content-Type, Cache-Control, and X-Request-Id echoed).
wrk.method = "GET"
wrk.path = "/api/items?id=42&sort=name&page=3"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"
wrk.headers["Accept"] = "application/json, text/plain, */*"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
wrk.headers["Accept-Encoding"] = "identity"
wrk.headers["Cookie"] = "session=0123456789abcdef; theme=dark"
wrk.headers["Referer"] = "http://127.0.0.1/app/items"
wrk.headers["Cache-Control"] = "no-cache"
wrk.headers["X-Request-Id"] = "req-7f3a9c"
wrk.headers["Connection"] = "keep-alive"
