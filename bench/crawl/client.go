// The crawl benchmark's Go client: N distinct URLs through `conc`
// goroutines sharing one http.Client; prints its wall and CPU time.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	base := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	conc, _ := strconv.Atoi(os.Args[3])
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}}
	jobs := make(chan int)
	var bad int64
	var wg sync.WaitGroup
	t0, c0 := time.Now(), cpu()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				resp, err := client.Get(fmt.Sprintf("%s/p/%d", base, i))
				if err != nil {
					atomic.AddInt64(&bad, 1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := []byte(fmt.Sprintf("page /p/%d ", i))
				if resp.StatusCode != 200 || len(body) != 2048 || !bytes.HasPrefix(body, want) {
					atomic.AddInt64(&bad, 1)
				}
			}
		}()
	}
	for i := 1; i <= n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("ok %d bad %d wall %.4f cpu %.4f\n", int64(n)-bad, bad, time.Since(t0).Seconds(), cpu()-c0)
}
