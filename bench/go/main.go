// Go baselines for bench/run.sh, run with GOMAXPROCS=1. Each prints
// "RESULT <name> <value>", timed inside the program with a monotonic clock.
//
//	bench-go spawn N | switch N | throughput N | idle N
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return v
		}
	}
	return 0
}

// The median of sorted xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	switch os.Args[1] {
	case "spawn":
		// Rounds of goroutines created back to back; each yields once and
		// finishes. The first round, then the median of the later ones.
		rounds := 5
		if len(os.Args) > 3 {
			rounds, _ = strconv.Atoi(os.Args[3])
		}
		rates := make([]float64, rounds)
		for r := range rates {
			var done int64
			all := make(chan struct{})
			t0 := time.Now()
			for i := 0; i < n; i++ {
				go func() {
					runtime.Gosched()
					if atomic.AddInt64(&done, 1) == int64(n) {
						close(all)
					}
				}()
			}
			<-all
			rates[r] = float64(n) / time.Since(t0).Seconds()
		}
		warm := append([]float64(nil), rates[1:]...)
		sort.Float64s(warm)
		fmt.Printf("RESULT tasks_per_s %g\n", rates[0])
		if len(warm) > 0 {
			fmt.Printf("RESULT tasks_per_s_warm %g\n", median(warm))
		}
	case "switch":
		// Unbuffered channel ping-pong: n one-way handoffs.
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v + 1
			}
		}()
		t0 := time.Now()
		v := 0
		for i := 0; i < n/2; i++ {
			ping <- v
			v = <-pong
		}
		fmt.Printf("RESULT ns_per_handoff %g\n", float64(time.Since(t0).Nanoseconds())/float64(n))
	case "throughput":
		// 4 producers and 4 consumers through one buffered channel.
		ch := make(chan int, 1024)
		counts := make(chan int, 4)
		per := n / 4
		var wg sync.WaitGroup
		t0 := time.Now()
		for p := 0; p < 4; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					ch <- i
				}
			}()
		}
		for c := 0; c < 4; c++ {
			go func() {
				k := 0
				for range ch {
					k++
				}
				counts <- k
			}()
		}
		wg.Wait()
		close(ch)
		total := 0
		for c := 0; c < 4; c++ {
			total += <-counts
		}
		fmt.Printf("RESULT values_per_s %g\n", float64(total)/time.Since(t0).Seconds())
	case "idle":
		runtime.GC()
		base := rssKB()
		var asleep int64
		all := make(chan struct{})
		for i := 0; i < n; i++ {
			d := time.Duration(2+i%9) * time.Second
			go func() {
				if atomic.AddInt64(&asleep, 1) == int64(n) {
					close(all)
				}
				time.Sleep(d)
			}()
		}
		<-all
		runtime.Gosched()
		fmt.Printf("RESULT bytes_per_task %g\n", float64(rssKB()-base)*1024/float64(n))
	}
}
