package kit

import (
	"context"
	"fmt"

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
// With a BatchBackend the kits are imported in batches (group commit):
// each batch's files are stored with two disk syncs in all, then one
// catalog transaction records every kit of the batch. A kit is reported
// imported or updated only once that transaction is on disk: what is
// reported is durable, and a crash before it leaves no trace of the batch's
// kits in the catalog, only unreferenced bytes that doctor reports and a
// new import reuses. Each kit is still all-or-nothing on its own: a
// refused kit leaves the batch, not failing the others. While a batch
// commits, the next one is read.
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
	return importBatches(ctx, bb, dirs, dup, report)
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

// pending is a batch read and staged, waiting for its commit: the outcome
// of every folder in it, in order, and where each staged kit's is.
type pending struct {
	batch   *node.PublishBatch
	results []Result
	staged  []int // index in results of each kit added to batch, in Add order
	exists  []bool
}

func importBatches(ctx context.Context, b BatchBackend, dirs []string, dup func(*Result) bool, report func(Result)) error {
	// One batch commits while the next is read: the channel holds at most
	// one batch ready, so at most three are in memory (their metadata; the
	// bytes are in temp files).
	ready := make(chan *pending, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ready {
			if ctx.Err() != nil {
				p.batch.Abort()
				continue
			}
			// A batch that started its commit finishes it: its kits are
			// then reported, as they are in the catalog.
			_, errs, _ := p.batch.Commit(context.WithoutCancel(ctx))
			for j, i := range p.staged {
				res := &p.results[i]
				switch {
				case errs[j] != nil:
					res.Outcome, res.Err = Refused, errs[j]
				case p.exists[j]:
					res.Outcome = Updated
				default:
					res.Outcome = Imported
				}
			}
			for _, res := range p.results {
				report(res)
			}
		}
	}()
	var cur *pending
	var err error
	for _, dir := range dirs {
		if err = ctx.Err(); err != nil {
			break
		}
		if cur == nil {
			pb, berr := b.NewPublishBatch()
			if berr != nil {
				err = berr
				break
			}
			cur = &pending{batch: pb}
		}
		// The folder stays open from resource.json to the last file: each
		// file is opened once, checked as Read checks it, and staged.
		res, k, exists, ok := check(ctx, b, dir, readOpen)
		if res.Outcome != Refused && dup(&res) {
			ok = false
		}
		if ok {
			if _, aerr := cur.batch.Add(ctx, k.Resource(), k.Uploads(), exists); aerr != nil {
				res.Outcome, res.Err = Refused, aerr
			} else {
				cur.staged = append(cur.staged, len(cur.results))
				cur.exists = append(cur.exists, exists)
			}
		}
		k.close()
		cur.results = append(cur.results, res)
		if len(cur.results) >= batchFolders || cur.batch.Bytes() >= batchBytes {
			ready <- cur
			cur = nil
		}
	}
	if cur != nil {
		if err != nil {
			cur.batch.Abort()
		} else {
			ready <- cur
		}
	}
	close(ready)
	<-done
	if err == nil {
		err = ctx.Err()
	}
	return err
}
