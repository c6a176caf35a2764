// An HTTP/1.1 server that answers every request with 413 and a body of N bytes without
// reading the request body. Go's net/http then ends the connection with closeWriteAndWait:
// CloseWrite, a fixed 500 ms sleep, close. It prints its address, then serves forever.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	bodyBytes := flag.Int("body-bytes", 3<<20, "size of the 413 response body")
	flag.Parse()

	body := make([]byte, *bodyBytes)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(listener.Addr().String())
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		w.Write(body)
	})
	if err := http.Serve(listener, handler); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
