// The plaintext benchmark on Go's net/http (GOMAXPROCS=1, as the other
// servers use one core): "Hello, World!" with a Content-Type header. Under
// /api/, the answer to bench/servers/realistic.lua's request (1 KB of JSON
// naming the query's id, three header fields).
// Usage: hello-go [port]   (0: pick one; prints the URL)
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
)

func main() {
	runtime.GOMAXPROCS(1)
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening on http://%s/\n", l.Addr())
	hello := []byte("Hello, World!")
	filler := strings.Repeat("x", 1000)
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
			return
		}
		id := r.URL.Query().Get("id")
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		w.Write([]byte(`{"id":"` + id + `","items":"` + filler + `"}`))
	}))
}
