package kit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/communs-numerique/communs/node"
)

// BatchBackend is a Backend that publishes many kits with one durable
// commit: node.Service on stores this process opened. The admin socket's
// client is not one: with a node running, kits go through it one by one.
type BatchBackend interface {
	Backend
	NewPublishBatch() (*node.PublishBatch, error)
}

// A batch closes at batchFolders kit folders or batchBytes of staged files,
// whichever comes first: a hundred kits share each disk sync, and a folder
// of large videos still reports progress every few dozen MiB.
const (
	batchFolders = 100
	batchBytes   = 32 << 20
)

// ImportAll imports the kit folders dirs and calls report once per folder,
// in the order of dirs. A kit whose id another folder of dirs already has
// is refused (which of the two is meant is the editor's to say).
//
// With a BatchBackend the kits are imported in batches (group commit) of
// batchFolders folders: each batch's files are stored with two disk syncs
// in all, then one catalog transaction records every kit of the batch. A kit is reported
// imported or updated only once that transaction is on disk: what is
// reported is durable, and a crash before it leaves no trace of the batch's
// kits in the catalog, only unreferenced bytes that doctor reports and a
// new import reuses. Each kit is still all-or-nothing on its own: a
// refused kit leaves the batch, not failing the others. While a batch
// commits, the next ones are read, on as many workers as there are cores.
//
// When ctx ends, ImportAll stops reading folders, abandons the batches not
// yet committing, and returns ctx's error.
func ImportAll(ctx context.Context, b Backend, dirs []string, report func(Result)) error {
	seen := map[string]string{} // id -> first folder
	dup := func(res *Result) bool {
		if first, ok := seen[res.ID]; ok {
			res.Outcome, res.Err = Refused, fmt.Errorf("id %q is also the id of the kit folder %s; each kit needs its own id", res.ID, first)
			return true
		}
		seen[res.ID] = res.Dir
		return false
	}
	bb, ok := b.(BatchBackend)
	if !ok {
		for _, dir := range dirs {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, k, exists, ok := check(ctx, b, dir, Read)
			if res.Outcome != Refused && dup(&res) {
				ok = false
			}
			if ok {
				res = publish(ctx, b, res, k, exists)
			}
			report(res)
		}
		return ctx.Err()
	}
	return importBatches(ctx, bb, dirs, report)
}

func publish(ctx context.Context, b Backend, res Result, k Kit, exists bool) Result {
	if _, err := b.Publish(ctx, k.Resource(), k.Uploads(), exists); err != nil {
		res.Outcome, res.Err = Refused, err
		return res
	}
	res.Outcome = Imported
	if exists {
		res.Outcome = Updated
	}
	return res
}

// chunk is batchFolders consecutive folders, read and staged by one worker
// into one batch (more when its files pass batchBytes), then committed by
// ImportAll in the order of the folders.
type chunk struct {
	folders []folder
	batches []*node.PublishBatch
	err     error // staging stopped: ctx ended or no batch could start
	ready   chan struct{}
}

type folder struct {
	res Result
	// counts: resource.json was read, so its id counts for duplicates.
	counts bool
	batch  int // index in chunk.batches of the batch holding the kit, or -1
	exists bool
}

// importBatches reads and stages chunks on up to GOMAXPROCS workers (the
// kernel's work for each small file is most of an import's cost) while
// this goroutine commits them in order: at most workers+1 chunks are
// staged and not yet committed.
func importBatches(ctx context.Context, b BatchBackend, dirs []string, report func(Result)) error {
	n := (len(dirs) + batchFolders - 1) / batchFolders
	chunks := make([]*chunk, n)
	for i := range chunks {
		chunks[i] = &chunk{ready: make(chan struct{})}
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), 4, n))
	staging, stop := context.WithCancel(ctx)
	defer stop()
	// A worker takes a slot before a chunk index, so the smallest chunk not
	// committed is always being staged: the committer never waits for a
	// chunk no one can take.
	slots := make(chan struct{}, workers+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-staging.Done():
					return
				case slots <- struct{}{}:
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				stageChunk(staging, b, chunks[i], dirs[i*batchFolders:min(len(dirs), (i+1)*batchFolders)])
				close(chunks[i].ready)
			}
		}()
	}

	seen := map[string]string{} // id -> first folder
	var err error
	for _, c := range chunks {
		select {
		case <-c.ready:
			err = c.err
		case <-ctx.Done(): // the workers may have stopped before taking c
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			break
		}
		for j := range c.folders {
			f := &c.folders[j]
			if !f.counts {
				continue
			}
			if first, ok := seen[f.res.ID]; ok {
				if f.batch >= 0 {
					c.batches[f.batch].Drop(f.res.ID)
					f.batch = -1
				}
				f.res.Outcome, f.res.Err = Refused, fmt.Errorf("id %q is also the id of the kit folder %s; each kit needs its own id", f.res.ID, first)
				continue
			}
			seen[f.res.ID] = f.res.Dir
		}
		for bi, pb := range c.batches {
			// A batch that starts its commit finishes it: its kits are
			// then reported, as they are in the catalog.
			_, errs, _ := pb.Commit(context.WithoutCancel(ctx))
			k := 0
			for j := range c.folders {
				f := &c.folders[j]
				if f.batch != bi {
					continue
				}
				switch {
				case errs[k] != nil:
					f.res.Outcome, f.res.Err = Refused, errs[k]
				case f.exists:
					f.res.Outcome = Updated
				default:
					f.res.Outcome = Imported
				}
				k++
			}
		}
		for _, f := range c.folders {
			report(f.res)
		}
		<-slots
	}
	// Stopped early: the chunks staged and not committed are given up.
	stop()
	wg.Wait()
	for _, c := range chunks {
		select {
		case <-c.ready:
			for _, pb := range c.batches {
				pb.Abort()
			}
		default:
		}
	}
	return err
}

// stageChunk reads the folders of a chunk and stages their kits.
func stageChunk(ctx context.Context, b BatchBackend, c *chunk, dirs []string) {
	var cur *node.PublishBatch
	ids := map[string]bool{} // a second kit with the same id is left to the committer
	for _, dir := range dirs {
		if c.err = ctx.Err(); c.err != nil {
			return
		}
		if cur == nil {
			if cur, c.err = b.NewPublishBatch(); c.err != nil {
				return
			}
			c.batches = append(c.batches, cur)
		}
		// The folder stays open from resource.json to the last file: each
		// file is opened once, checked as Read checks it, and staged.
		res, k, exists, ok := check(ctx, b, dir, readOpen)
		f := folder{res: res, counts: res.Outcome != Refused, batch: -1, exists: exists}
		if ok && !ids[res.ID] {
			ids[res.ID] = true
			if _, err := cur.Add(ctx, k.Resource(), k.Uploads(), exists); err != nil {
				f.res.Outcome, f.res.Err = Refused, err
			} else {
				f.batch = len(c.batches) - 1
			}
		}
		k.close()
		c.folders = append(c.folders, f)
		if cur.Bytes() >= batchBytes {
			cur.Place(ctx)
			cur = nil
		}
	}
	// The bytes are synced and placed here, on this worker, so that the
	// committer only syncs the names and the catalog.
	if cur != nil {
		cur.Place(ctx)
	}
}
