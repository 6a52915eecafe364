package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

type S struct{ a, b int }

//go:noinline
func helper(s *S) { s.b ^= 1 }

//go:noinline
func target(s *S, x int) int {
	helper(s)
	s.a += x
	if s.a > 1000000 {
		s.b++
		s.a = 0
	}
	return s.a + s.b
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	s := &S{}
	t0 := time.Now()
	r := 0
	for i := 0; i < n; i++ {
		r += target(s, i)
	}
	fmt.Printf("%.1f ns/call (%d)\n", float64(time.Since(t0).Nanoseconds())/float64(n), r&1)
}
