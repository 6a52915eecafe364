// h2client: HTTP/2 requests on ONE TLS connection that is opened (and used once) before the caller
// starts kapimon. Used by tests/integration/test_preopened_conn.sh.
//
//	h2client -url https://127.0.0.1:16443 -ca ca.crt -token-file tok -ua UA -n 10 -prefix /api/v1/...
//
// Sends one warm-up request (GET PREFIX), prints "ready <local addr>", waits for a line on stdin, then
// sends N requests on the same connection and prints one line per request:
//
//	sent <i> <method> <path> <status> <proto> reused=<bool> local=<addr>
//
// Request i alternates: even i GET PREFIX?limit=<i+1> (200), odd i GET PREFIX/<missing-name-i> (404).
// Exits 1 when a request fails or does not reuse the warm-up connection (httptrace GotConn).
// Standard library only (Go 1.19): GO111MODULE=off go build.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"time"
)

func main() {
	base := flag.String("url", "", "apiserver base URL")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	tokenFile := flag.String("token-file", "", "file holding the bearer token")
	ua := flag.String("ua", "kapimon-h2client/1.0", "User-Agent")
	n := flag.Int("n", 10, "requests after the warm-up")
	prefix := flag.String("prefix", "/api/v1/namespaces/default/configmaps", "collection path")
	missing := flag.String("missing", "kapimon-h2client-missing", "name prefix of objects that do not exist")
	flag.Parse()
	if *base == "" || *caFile == "" || *tokenFile == "" {
		fmt.Fprintln(os.Stderr, "h2client: -url, -ca and -token-file are required")
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

	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		MaxConnsPerHost:   1,
		IdleConnTimeout:   10 * time.Minute,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	do := func(path string) (status int, proto string, reused bool, local string) {
		req, err := http.NewRequest("GET", *base+path, nil)
		check(err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("User-Agent", *ua)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(ci httptrace.GotConnInfo) {
				reused = ci.Reused
				local = ci.Conn.LocalAddr().String()
			},
		}))
		resp, err := client.Do(req)
		check(err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Proto, reused, local
	}

	st, proto, _, local0 := do(*prefix)
	if st != 200 || proto != "HTTP/2.0" {
		fail("warm-up GET %s: status %d proto %s (want 200 HTTP/2.0)", *prefix, st, proto)
	}
	fmt.Printf("ready %s\n", local0)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail("reading the go-ahead line from stdin: %v", err)
	}
	bad := 0
	for i := 0; i < *n; i++ {
		path := fmt.Sprintf("%s?limit=%d", *prefix, i+1)
		if i%2 == 1 {
			path = fmt.Sprintf("%s/%s-%d", *prefix, *missing, i)
		}
		st, proto, reused, local := do(path)
		fmt.Printf("sent %d GET %s %d %s reused=%t local=%s\n", i, path, st, proto, reused, local)
		if !reused || local != local0 || proto != "HTTP/2.0" {
			fmt.Fprintf(os.Stderr, "h2client: request %d did not reuse the warm-up connection %s (reused=%t local=%s proto=%s)\n",
				i, local0, reused, local, proto)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "h2client: "+f+"\n", a...)
	os.Exit(1)
}
