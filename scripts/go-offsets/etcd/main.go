// Prints the byte offsets kapimon's BPF programs read in etcd clientv3's gogo-generated response
// types (etcdserverpb.RangeResponse: Kvs, More, Count) as a C initializer row for etcd_table[] in
// src/plan/offsets_select.c. The fields are exported: unsafe.Offsetof is the measurement. Built in
// GOPATH mode against kubernetes 1.20.2's vendor tree by scripts/gen-etcd-offsets.sh.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"unsafe"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

func main() {
	ver := flag.String("etcd", "", "go.etcd.io/etcd module version")
	flag.Parse()
	var r pb.RangeResponse
	var w pb.WatchResponse
	fmt.Printf("\t/* etcd_table row, %s, etcdserverpb (go.etcd.io/etcd/etcdserver/etcdserverpb) */\n", runtime.Version())
	fmt.Printf("\t{ %q, { .range_resp_kvs = %d, .range_resp_more = %d, .range_resp_count = %d, .watch_resp_events = %d },\n",
		*ver, unsafe.Offsetof(r.Kvs), unsafe.Offsetof(r.More), unsafe.Offsetof(r.Count), unsafe.Offsetof(w.Events))
	fmt.Printf("\t  \"unsafe.Offsetof in a %s GOPATH program built against go.etcd.io/etcd %s (kubernetes v1.20.2 vendor tree) by scripts/gen-etcd-offsets.sh\" },\n",
		runtime.Version(), *ver)
}
