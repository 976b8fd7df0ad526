package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// UPlotVersion is the version of the chart library vendored in
// assets/vendor/uplot (see SOURCE.md there).
const UPlotVersion = "1.6.32"

//go:embed assets
var assetFiles embed.FS

// asset is one embedded file, under its name (dashboard.css) and under a
// name with a hash of its content (dashboard.0123456789ab.css), which
// changes whenever the content does.
type asset struct {
	name, hashed string
	body         []byte
	etag         string
	contentType  string
}

// assets holds the embedded files by name and by hashed name.
var assets = loadAssets()

func loadAssets() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:6])
		name := strings.TrimPrefix(p, "assets/")
		dir, file := path.Split(name)
		hashed := dir + file + "." + h
		if ext := path.Ext(file); ext != "" {
			hashed = dir + strings.TrimSuffix(file, ext) + "." + h + ext
		}
		a := &asset{name: name, hashed: hashed, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(file)}
		m[name], m[hashed] = a, a
		return nil
	})
	if err != nil {
		panic("dashboard: reading the embedded assets: " + err.Error())
	}
	return m
}

// contentType returns the Content-Type of an asset by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	}
	return "text/plain; charset=utf-8" // LICENSE, SOURCE.md
}

// assetURL returns the URL of an embedded asset under its hashed name.
func assetURL(name string) (string, error) {
	a, ok := assets[name]
	if !ok || a.name != name {
		return "", fmt.Errorf("no asset %q", name)
	}
	return PathAssets + a.hashed, nil
}

// Assets returns the handler of the embedded scripts, style sheets and
// the chart library with its licence, at PathAssets (register it with
// PatternAssets; it expects the whole path). Pages link to the hashed
// names (dashboard.0123456789ab.css), which are served with
// "Cache-Control: public, max-age=31536000, immutable"; the plain names
// are served too, with "no-cache" and an ETag. Every answer has an exact
// Content-Type and X-Content-Type-Options: nosniff; a conditional request
// whose ETag matches gets 304. Methods other than GET and HEAD get 405,
// unknown names 404.
func Assets() http.Handler {
	return http.HandlerFunc(serveAsset)
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, PathAssets)
	a := assets[name]
	if !ok || a == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	if name == a.hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
