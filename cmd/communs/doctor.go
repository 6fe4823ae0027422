package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/node"
)

// Check levels.
const (
	levelOK   = "OK"
	levelWarn = "WARN"
	levelFail = "FAIL"
	// levelNote is advice, not a problem: it never fails the command.
	levelNote = "NOTE"
)

// firstSteps are the three commands that get an empty node going. serve
// (on a terminal) and doctor print them; the home page says the same.
var firstSteps = []string{
	"communs user add NAME --role editor      # un compte d'éditeur / an editor account (then: communs user passwd NAME)",
	"communs resource import DIR              # importer des kits / import kit folders (or, from the source tree: make demo)",
	"communs peer follow HANDLE               # suivre un hub / follow a hub, e.g. hub.example.fr",
}

// printFirstSteps prints the first steps when the catalog is empty and
// the output is a person's terminal (not a log file or a pipe).
func printFirstSteps(w io.Writer, terminal, empty bool) {
	if !terminal || !empty {
		return
	}
	fmt.Fprintln(w, "\nPremiers pas / first steps (catalogue vide / empty catalog):")
	for _, l := range firstSteps {
		fmt.Fprintln(w, "  "+l)
	}
}

// isTerminal tells whether f is a character device, i.e. a terminal.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// check is one line of `communs doctor`: what was checked, what was found
// and, when it is not OK, what to do.
type check struct {
	Level  string `json:"level"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

type doctor struct {
	cfg    config
	st     *stores
	fed    *federation.Federation
	fedWhy string
	deep   bool
	out    []check
	client *http.Client
}

func (d *doctor) add(level, name, detail, fix string) {
	d.out = append(d.out, check{Level: level, Name: name, Detail: detail, Fix: fix})
}

// run performs every check; none stops the others.
func (d *doctor) run(ctx context.Context) []check {
	if d.client == nil {
		d.client = &http.Client{Timeout: 10 * time.Second}
	}
	d.add(levelOK, "config", fmt.Sprintf("data %s, storage %s, search %s, public URL %s", d.cfg.Data, d.cfg.Storage, d.cfg.Search, d.cfg.PublicURL), "")
	d.dataFolder()
	d.catalogIntegrity(ctx)
	d.storageProbe(ctx)
	d.searchIndex(ctx)
	d.federation(ctx)
	return d.out
}

func (d *doctor) dataFolder() {
	info, err := os.Stat(d.cfg.Data)
	if err != nil {
		d.add(levelFail, "data folder", err.Error(), "create it or point --data at the right folder")
		return
	}
	probe, err := os.CreateTemp(d.cfg.Data, ".doctor-*")
	if err != nil {
		d.add(levelFail, "data folder", fmt.Sprintf("%s is not writable: %v", d.cfg.Data, err), "give the node's user write access (chown communs: "+d.cfg.Data+")")
		return
	}
	probe.Close()
	os.Remove(probe.Name())
	if info.Mode().Perm()&0o007 != 0 {
		d.add(levelWarn, "data folder", fmt.Sprintf("%s is open to other users (mode %v); it holds tokens and keys", d.cfg.Data, info.Mode().Perm()), "chmod o-rwx "+d.cfg.Data)
		return
	}
	d.add(levelOK, "data folder", fmt.Sprintf("%s writable, mode %v", d.cfg.Data, info.Mode().Perm()), "")
}

// catalogIntegrity checks every file record against the blob store: the
// blob exists with the recorded size and, with --deep, the recorded digest.
func (d *doctor) catalogIntegrity(ctx context.Context) {
	var problems []string
	files, resources, cursor := 0, 0, ""
	for {
		rs, next, err := d.st.Catalog.List(ctx, node.ListOptions{After: cursor, Limit: 200})
		if err != nil {
			d.add(levelFail, "catalog", err.Error(), "restore the catalog from a backup (communs restore)")
			return
		}
		for _, r := range rs {
			resources++
			for _, f := range r.Files {
				if f.SHA256 == "" {
					continue // a remote file linked to its origin
				}
				files++
				if p := d.checkBlob(ctx, r.ID, f); p != "" {
					problems = append(problems, p)
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	how := "sizes checked"
	if d.deep {
		how = "sizes and SHA-256 checked"
	}
	if len(problems) > 0 {
		shown := problems
		if len(shown) > 10 {
			shown = append(shown[:10:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		d.add(levelFail, "catalog", fmt.Sprintf("%d of %d files are damaged or missing:\n      %s", len(problems), files, strings.Join(shown, "\n      ")),
			"upload the file again (PUT /api/v1/resources/ID/files/NAME), restore the blobs from a backup, or remove the resource (communs resource rm ID)")
		return
	}
	d.add(levelOK, "catalog", fmt.Sprintf("%d resources, %d files, every file present (%s)", resources, files, how), "")
	if resources == 0 {
		d.add(levelNote, "first steps", "the catalog is empty / le catalogue est vide",
			"communs user add NAME --role editor; communs resource import DIR (or make demo); communs peer follow HANDLE")
	}
}

func (d *doctor) checkBlob(ctx context.Context, id string, f node.File) string {
	size, err := d.st.Blobs.Stat(ctx, f.SHA256)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return fmt.Sprintf("%s/%s: blob %s is missing", id, f.Name, f.SHA256[:12])
	case err != nil:
		return fmt.Sprintf("%s/%s: %v", id, f.Name, err)
	case size != f.Size:
		return fmt.Sprintf("%s/%s: blob has %d bytes, the catalog says %d", id, f.Name, size, f.Size)
	}
	if !d.deep {
		return ""
	}
	br, err := d.st.Blobs.Open(ctx, f.SHA256)
	if err != nil {
		return fmt.Sprintf("%s/%s: %v", id, f.Name, err)
	}
	defer br.Close()
	h := sha256.New()
	if _, err := io.Copy(h, br); err != nil {
		return fmt.Sprintf("%s/%s: read: %v", id, f.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Sprintf("%s/%s: corrupted, its bytes hash to %s, not %s", id, f.Name, got[:12], f.SHA256[:12])
	}
	return ""
}

// storageProbe writes, reads and deletes a small random blob.
func (d *doctor) storageProbe(ctx context.Context) {
	fix := "check that the storage answers: disk space and permissions, or the --s3-* settings and that MinIO/S3 is up"
	data := make([]byte, 64)
	rand.Read(data)
	b, err := d.st.Blobs.Put(ctx, strings.NewReader(string(data)), "")
	if err != nil {
		d.add(levelFail, "storage", "write probe failed: "+err.Error(), fix)
		return
	}
	defer d.st.Blobs.Delete(context.WithoutCancel(ctx), b.SHA256)
	br, err := d.st.Blobs.Open(ctx, b.SHA256)
	if err != nil {
		d.add(levelFail, "storage", "read probe failed: "+err.Error(), fix)
		return
	}
	got, err := io.ReadAll(br)
	br.Close()
	if err != nil || string(got) != string(data) {
		d.add(levelFail, "storage", fmt.Sprintf("read probe returned other bytes (%v)", err), fix)
		return
	}
	if err := d.st.Blobs.Delete(ctx, b.SHA256); err != nil {
		d.add(levelFail, "storage", "delete probe failed: "+err.Error(), fix)
		return
	}
	d.add(levelOK, "storage", storageLabel(d.cfg)+": write, read and delete probe passed", "")
}

func (d *doctor) searchIndex(ctx context.Context) {
	if d.st.Indexer == nil {
		d.add(levelWarn, "search", "index not opened", "")
		return
	}
	s, err := d.st.Indexer.Status(ctx)
	switch {
	case err != nil:
		d.add(levelFail, "search", err.Error(), "see communs index status")
	case s.LastError != "" && s.Documents == 0 && s.Resources > 0:
		d.add(levelFail, "search", fmt.Sprintf("%s does not answer: %s", s.Engine, s.LastError), "start the search engine or fix --meili-url/--meili-key; the index catches up by itself")
	case s.RebuildPending:
		d.add(levelWarn, "search", "a rebuild is unfinished", "start the node (it resumes the rebuild) or run communs index rebuild")
	case s.Documents != s.Resources && s.Backlog == 0:
		d.add(levelWarn, "search", fmt.Sprintf("%d documents indexed for %d resources", s.Documents, s.Resources), "communs index rebuild")
	case s.Backlog > 0:
		d.add(levelWarn, "search", fmt.Sprintf("%d change(s) not indexed yet (%d documents, %d resources)", s.Backlog, s.Documents, s.Resources), "start the node: its indexer applies them")
	default:
		d.add(levelOK, "search", fmt.Sprintf("%s: %d documents for %d resources", s.Engine, s.Documents, s.Resources), "")
	}
	if c, ok := d.st.Index.(node.SettingsChecker); ok {
		if err := c.CheckSettings(ctx); err != nil {
			d.add(levelFail, "search", "settings: "+err.Error(), "restart the node: it applies the index settings at start")
		} else if d.cfg.Search == "meilisearch" {
			d.add(levelOK, "search", "Meilisearch settings are the node's", "")
		}
	}
}

func (d *doctor) federation(ctx context.Context) {
	if d.fed == nil {
		d.add(levelWarn, "federation", "off: "+d.fedWhy, "serve behind HTTPS and set --public-url https://...")
		return
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Data, "federation", "actor.pem")); err != nil {
		d.add(levelFail, "federation", "actor key missing: "+err.Error(), "restore federation/actor.pem from a backup; a new key breaks every follow")
	} else {
		d.add(levelOK, "federation", "actor key present, handle @"+d.fed.Handle(), "")
	}
	d.publicURL(ctx)
	rep, err := d.fed.Report(ctx)
	if err != nil {
		d.add(levelFail, "federation", err.Error(), "")
		return
	}
	level := levelOK
	if rep.Backlog > 1000 {
		level = levelWarn
	}
	d.add(level, "deliveries", fmt.Sprintf("%d waiting", rep.Backlog), "a large backlog means peers are down; communs peer list shows which")
	for _, p := range rep.Peers {
		if p.Failures > 0 {
			d.add(levelWarn, "peer", fmt.Sprintf("%s: %d failed deliveries, last: %s", p.Handle, p.Failures, p.LastError), "deliveries are retried for 7 days; contact the hub or communs peer unfollow it")
		}
	}
}

// publicURL checks that the public URL reaches this very node (WebFinger
// answers with its actor) and compares clocks through the Date header:
// signatures are refused by peers when clocks drift.
func (d *doctor) publicURL(ctx context.Context) {
	u := d.cfg.PublicURL + "/.well-known/webfinger?resource=" + url.QueryEscape("acct:"+d.fed.Handle())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := d.client.Do(req)
	fix := "check --public-url and that the reverse proxy forwards to this node"
	if err != nil {
		d.add(levelFail, "public URL", fmt.Sprintf("%s does not answer: %v", d.cfg.PublicURL, err), fix)
		return
	}
	defer resp.Body.Close()
	var jrd struct {
		Links []struct{ Rel, Href string } `json:"links"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&jrd)
	found := false
	for _, l := range jrd.Links {
		found = found || (l.Rel == "self" && l.Href == d.fed.ActorURL())
	}
	if resp.StatusCode != http.StatusOK || !found {
		d.add(levelFail, "public URL", fmt.Sprintf("%s answers %s but not as this node (no actor %s in its WebFinger)", d.cfg.PublicURL, resp.Status, d.fed.ActorURL()), fix)
		return
	}
	d.add(levelOK, "public URL", d.cfg.PublicURL+" reaches this node", "")
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		skew := time.Since(date).Round(time.Second)
		switch {
		case skew > 5*time.Minute || skew < -5*time.Minute:
			d.add(levelFail, "clock", fmt.Sprintf("the public URL's clock is %s away from this one", skew), "enable NTP (timedatectl set-ntp true): peers refuse signatures from a drifting clock")
		case skew > 30*time.Second || skew < -30*time.Second:
			d.add(levelWarn, "clock", fmt.Sprintf("%s of skew", skew), "enable NTP (timedatectl set-ntp true)")
		default:
			d.add(levelOK, "clock", "in step with the public URL", "")
		}
	}
}

// doctorHandler runs the checks inside the running node (admin socket).
func doctorHandler(cfg config, st *stores, fed *federation.Federation, why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &doctor{cfg: cfg, st: st, fed: fed, fedWhy: why, deep: r.URL.Query().Get("deep") == "1"}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(d.run(r.Context()))
	})
}

func doctorCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "doctor", Usage: "vérifier le nœud et dire quoi faire / check the node and say what to do",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "deep", Usage: "also read every file and check its SHA-256"}},
		Action: func(c *cli.Context) error {
			cfg, err := readConfig(c)
			if err != nil {
				return err
			}
			checks, err := doctorChecks(c, cfg)
			if err != nil {
				return err
			}
			failed := 0
			for _, ch := range checks {
				fmt.Fprintf(c.App.Writer, "%-4s  %-11s %s\n", ch.Level, ch.Name, ch.Detail)
				if ch.Fix != "" && ch.Level != levelOK {
					fmt.Fprintf(c.App.Writer, "      → %s\n", ch.Fix)
				}
				if ch.Level == levelFail {
					failed++
				}
			}
			if failed > 0 {
				return cli.Exit(fmt.Sprintf("%d check(s) failed", failed), 1)
			}
			return nil
		},
	})
}

func doctorChecks(c *cli.Context, cfg config) ([]check, error) {
	if cl := runningNode(cfg); cl != nil {
		q := ""
		if c.Bool("deep") {
			q = "?deep=1"
		}
		req, _ := http.NewRequestWithContext(c.Context, http.MethodGet, "http://communs-admin/admin/v1/doctor"+q, nil)
		if resp, err := cl.Do(req); err == nil {
			defer resp.Body.Close()
			var checks []check
			if err := json.NewDecoder(resp.Body).Decode(&checks); err != nil {
				return nil, fmt.Errorf("doctor: the running node answered %s", resp.Status)
			}
			return checks, nil
		}
	}
	log, err := app.NewLogger(cfg)
	if err != nil {
		return nil, err
	}
	svc, st, err := app.OpenService(c.Context, cfg, log, true)
	if err != nil {
		return []check{{Level: levelFail, Name: "catalog", Detail: err.Error(), Fix: "start the node or free the data folder"}}, nil
	}
	defer st.Close()
	fed, why, err := openFederation(cfg, svc, st, log)
	if err != nil {
		return nil, err
	}
	d := &doctor{cfg: cfg, st: st, fed: fed, fedWhy: why, deep: c.Bool("deep")}
	return d.run(c.Context), nil
}
