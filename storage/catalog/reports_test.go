package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
)

// The bound on open reports per resource holds under parallel writers, and
// closing a report makes room again.
func TestReportsBoundPerResource(t *testing.T) {
	st, err := catalog.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const max = 10
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.AddReport(ctx, node.Report{ID: fmt.Sprintf("r%02d", i), ResourceID: "kit", Reason: "other", Created: time.Now()}, max)
		}()
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if errors.Is(err, node.ErrTooMany) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 30-max {
		t.Errorf("%d refused, want %d", refused, 30-max)
	}
	if n, _ := st.OpenReports(ctx); n != max {
		t.Errorf("%d open reports stored, want %d", n, max)
	}
	// Another resource has its own bound.
	if err := st.AddReport(ctx, node.Report{ID: "other", ResourceID: "kit-2", Reason: "other"}, max); err != nil {
		t.Fatal(err)
	}
	open, err := st.ListReports(ctx, node.ReportFilter{OpenOnly: true})
	if err != nil || len(open) != max+1 {
		t.Fatalf("open list: %d, %v", len(open), err)
	}
	var onKit string
	for _, r := range open {
		if r.ResourceID == "kit" {
			onKit = r.ID
		}
	}
	if err := st.AddReport(ctx, node.Report{ID: "before-close", ResourceID: "kit", Reason: "other"}, max); !errors.Is(err, node.ErrTooMany) {
		t.Fatalf("report over the bound: %v, want ErrTooMany", err)
	}
	if _, err := st.UpdateReport(ctx, onKit, func(r *node.Report) error { r.Closed = time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.AddReport(ctx, node.Report{ID: "after-close", ResourceID: "kit", Reason: "other"}, max); err != nil {
		t.Errorf("a closed report still counts against the bound: %v", err)
	}
	all, _ := st.ListReports(ctx, node.ReportFilter{})
	if len(all) != max+2 {
		t.Errorf("%d reports in all, want %d", len(all), max+2)
	}
}
