package web

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/communs-numerique/communs/node"
)

// inlineTypes may be shown in the browser; anything else (HTML, SVG, XML,
// scripts, unknown types) is forced to download so an uploaded file can
// never run as a page of this origin.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true, "text/plain": true,
}

// download streams one file. http.ServeContent gives Range/206,
// If-None-Match/304 and HEAD from the ETag (the sha256) and a seekable blob.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	_, f, br, err := s.svc.OpenFile(r.Context(), id, name)
	if err != nil {
		s.downloadError(w, r, err)
		return
	}
	if br == nil {
		// A remote file this node does not mirror: its origin serves it.
		http.Redirect(w, r, f.RemoteURL, http.StatusFound)
		return
	}
	defer br.Close()
	h := w.Header()
	h.Set("ETag", `"`+f.SHA256+`"`)
	h.Set("Content-Type", f.MediaType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := "attachment"
	if inlineTypes[f.MediaType] {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.Name}))
	http.ServeContent(w, r, "", f.Added, br)
}

// downloadError answers a person following a download link with the HTML
// error page in their language, and a script with the JSON error.
func (s *Server) downloadError(w http.ResponseWriter, r *http.Request, err error) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.uiError(w, r, err)
		return
	}
	s.writeError(w, r, err)
}

// zipKit streams the whole kit as one zip, file after file, so neither memory
// nor disk holds the archive. Files are stored, not deflated: PDFs, videos
// and office files are already compressed and the CPU is better spent
// serving.
func (s *Server) zipKit(w http.ResponseWriter, r *http.Request, id string) {
	res, err := s.svc.Get(r.Context(), id)
	if err != nil {
		s.downloadError(w, r, err)
		return
	}
	etag := `"zip-` + kitVersion(res) + `"`
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("ETag", etag)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": res.ID + ".zip"}))
	if r.Method == http.MethodHead {
		return
	}
	zw := zip.NewWriter(w)
	var skipped, clashes []string
	// No two entries may differ only by case: unzipped on Windows or macOS
	// one would overwrite the other. The domain refuses such names
	// (node.ValidateFileName, node.CheckFileNamesDistinct); a resource
	// stored before that rule keeps its generated LICENCE.txt and
	// resource.json, and a clashing file is left out and listed in
	// LICENCE.txt with its own download link.
	taken := map[string]bool{node.FileNameKey("LICENCE.txt"): true, node.FileNameKey("resource.json"): true}
	for _, f := range res.Files {
		if f.SHA256 == "" {
			skipped = append(skipped, f.Name+" : "+f.RemoteURL)
			continue
		}
		k := node.FileNameKey(f.Name)
		if taken[k] {
			s.log.Warn("zip: file left out, its name clashes with another entry", "resource", id, "file", f.Name)
			clashes = append(clashes, f.Name+" : "+s.fileURL(id, f.Name))
			continue
		}
		taken[k] = true
		_, _, br, err := s.svc.OpenFile(r.Context(), id, f.Name)
		if err != nil {
			s.abortZip(r, id, err)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store, Modified: f.Added, UncompressedSize64: uint64(f.Size)})
		if err == nil {
			_, err = io.Copy(fw, br)
		}
		br.Close()
		if err != nil {
			s.abortZip(r, id, err)
		}
	}
	lw, err := zw.CreateHeader(&zip.FileHeader{Name: "LICENCE.txt", Method: zip.Deflate, Modified: res.Updated})
	if err == nil {
		_, err = io.WriteString(lw, licenceText(res, s.resourceURL(res.ID), skipped, clashes))
	}
	if err == nil {
		var mw io.Writer
		mw, err = zw.CreateHeader(&zip.FileHeader{Name: "resource.json", Method: zip.Deflate, Modified: res.Updated})
		if err == nil {
			enc := json.NewEncoder(mw)
			enc.SetIndent("", "  ")
			err = enc.Encode(s.resourceJSON(res))
		}
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		s.abortZip(r, id, err)
	}
}

// abortZip cuts the connection: the status line is already sent, and a
// truncated download is better than a complete-looking but wrong archive.
func (s *Server) abortZip(r *http.Request, id string, err error) {
	s.log.Warn("zip download aborted", "resource", id, "err", err)
	panic(http.ErrAbortHandler)
}

// kitVersion changes whenever a file or the metadata changes.
func kitVersion(r node.Resource) string {
	v := fmt.Sprintf("%x", r.Updated.UnixNano())
	for _, f := range r.Files {
		if len(f.SHA256) >= 8 {
			v += f.SHA256[:8]
		}
	}
	if len(v) > 64 {
		v = v[:64]
	}
	return v
}

// Attribution is the ready-to-copy credit line a reuser must give.
func Attribution(r node.Resource) string {
	short := r.License
	if l, ok := node.LookupLicense(r.License); ok {
		short = l.Short
	}
	by := strings.Join(r.Authors, ", ")
	if by == "" {
		by = r.Hub
	}
	return fmt.Sprintf("« %s » par %s, %s, sous licence %s", r.Title, by, r.Hub, short)
}

func licenceText(r node.Resource, url string, skipped, clashes []string) string {
	var b strings.Builder
	l, _ := node.LookupLicense(r.License)
	fmt.Fprintf(&b, "%s\n\n", r.Title)
	fmt.Fprintf(&b, "Attribution / Credit:\n  %s\n\n", Attribution(r))
	fmt.Fprintf(&b, "Licence : %s (%s)\n  %s\n\n", l.Label, r.License, l.URL)
	fmt.Fprintf(&b, "Auteurs / Authors : %s\nHub : %s\nPublié / Published : %s\nSource : %s\n", strings.Join(r.Authors, ", "), r.Hub, r.Published, url)
	if len(skipped) > 0 {
		b.WriteString("\nFichiers hébergés par le hub d'origine / Files hosted by the origin hub:\n")
		for _, s := range skipped {
			b.WriteString("  " + s + "\n")
		}
	}
	if len(clashes) > 0 {
		b.WriteString("\nFichiers à télécharger un par un, leur nom se confond avec un autre dans un zip / Files to download one by one, their name clashes with another in a zip:\n")
		for _, c := range clashes {
			b.WriteString("  " + c + "\n")
		}
	}
	return b.String()
}
