// The plaintext benchmark on Go's net/http (GOMAXPROCS=1, as the other
// servers use one core): "Hello, World!" with a Content-Type header.
// Usage: hello-go [port]   (0: pick one; prints the URL)
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
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
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	}))
}
