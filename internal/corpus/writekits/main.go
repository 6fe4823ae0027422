// Command writekits writes the demo corpus (embedded, or $COMMUNS_CORPUS) as kit folders, with
// deterministic file bytes, for `communs resource import` (make demo).
//
//	go run ./internal/corpus/writekits [-max-file-size BYTES] DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/communs-numerique/communs/internal/corpus"
)

func main() {
	max := flag.Int64("max-file-size", 1<<20, "write larger files at this size (0: real sizes, about 1.6 GB)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: writekits [-max-file-size BYTES] DIR")
		os.Exit(2)
	}
	rs, err := corpus.Default()
	if err == nil {
		err = corpus.WriteKits(flag.Arg(0), rs, *max)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writekits:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: kits written\n", flag.Arg(0))
}
