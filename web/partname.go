package web

import (
	"mime"
	"mime/multipart"
)

// partFileName is the file name a multipart part carries, exactly as sent.
// multipart.Part.FileName keeps only the base name, so "../../evil.pdf"
// would be stored as "evil.pdf" while PUT refuses the same name; the raw
// name goes to node.ValidateFileName instead, so every route (API
// multipart, PUT, editor form, kit import) applies one rule and a refused
// name is a 400 naming it. An unparsable Content-Disposition gives "", as
// FileName does.
func partFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}
