// uaburst: N HTTP/2 GET requests, each with its own User-Agent ("<ua>/<i>"), for the cardinality test
// (tests/integration/test_top_cardinality.sh).
//
//	uaburst -url https://127.0.0.1:16443 -ca ca.crt -token-file tok -ua PREFIX -n 20000 -c 8 -path /api/...
//
// With -agents K, request i comes from agent PREFIX/(i mod K) and %d in the path is that agent's number
// (K kubelets hammering their own lease, say).
//
// Sends the requests from -c goroutines over the transport's HTTP/2 connection(s) and prints one line:
//
//	done sent=<n> ok=<2xx responses> failed=<other> seconds=<elapsed>
//
// Exits 1 when a request fails at the transport level. Standard library only (Go 1.19):
// GO111MODULE=off go build.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "", "apiserver base URL")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	tokenFile := flag.String("token-file", "", "file holding the bearer token")
	ua := flag.String("ua", "kapimon-uaburst", "User-Agent prefix: request i sends PREFIX/i")
	n := flag.Int("n", 20000, "requests (= distinct user agents)")
	c := flag.Int("c", 8, "concurrent requests")
	path := flag.String("path", "/api/v1/namespaces/default/configmaps?resourceVersion=0", "request path")
	agents := flag.Int("agents", 0, "when > 0: request i sends PREFIX/(i mod agents) and PATH with %d replaced by i mod agents")
	flag.Parse()
	if *base == "" || *caFile == "" || *tokenFile == "" || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "uaburst: -url, -ca and -token-file are required; -n and -c must be >= 1")
		os.Exit(2)
	}
	pem, err := os.ReadFile(*caFile)
	check(err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", *caFile)
	}
	tok, err := os.ReadFile(*tokenFile)
	check(err)
	token := strings.TrimSpace(string(tok))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: *c}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}

	var next, ok, bad int64 = -1, 0, 0
	agent := func(i int64) int64 {
		if *agents > 0 {
			return i % int64(*agents)
		}
		return i
	}
	reqPath := func(i int64) string {
		if *agents > 0 {
			return strings.ReplaceAll(*path, "%d", fmt.Sprint(agent(i)))
		}
		return *path
	}
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for g := 0; g < *c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*n) {
					return
				}
				req, err := http.NewRequest("GET", *base+reqPath(i), nil)
				check(err)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("User-Agent", fmt.Sprintf("%s/%d", *ua, agent(i)))
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					atomic.AddInt64(&bad, 1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 200 && resp.StatusCode < 300 {
					atomic.AddInt64(&ok, 1)
				} else {
					atomic.AddInt64(&bad, 1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("done sent=%d ok=%d failed=%d seconds=%.3f\n", *n, ok, bad, time.Since(start).Seconds())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "uaburst: first transport error: %v\n", e)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "uaburst: "+f+"\n", a...)
	os.Exit(1)
}
