// The plaintext benchmark on node's http module. Under /api/, the answer
// to bench/servers/realistic.lua's request (1 KB of JSON naming the
// query's id, three header fields).
// Usage: node hello_node.js [port]   (0: pick one; prints the URL)
const http = require("http");
const filler = "x".repeat(1000);
const server = http.createServer((req, res) => {
  if (!req.url.startsWith("/api/")) {
    res.setHeader("Content-Type", "text/plain");
    res.end("Hello, World!");
    return;
  }
  const id = new URL(req.url, "http://x").searchParams.get("id") || "";
  res.setHeader("Content-Type", "application/json");
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("X-Request-Id", req.headers["x-request-id"] || "");
  res.end(`{"id":"${id}","items":"${filler}"}`);
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
