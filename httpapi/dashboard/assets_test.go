package dashboard

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, url string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, url, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAssets checks what the asset handler sends: the embedded bytes,
// exact content types, long caching for hashed names only, 304 for a
// matching ETag, 404 and 405.
func TestAssets(t *testing.T) {
	h := Assets()
	for name, ctype := range map[string]string{
		"dashboard.js":                   "text/javascript; charset=utf-8",
		"dashboard.css":                  "text/css; charset=utf-8",
		"favicon.svg":                    "image/svg+xml",
		"vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
		"vendor/uplot/uPlot.min.css":     "text/css; charset=utf-8",
		"vendor/uplot/LICENSE":           "text/plain; charset=utf-8",
	} {
		want, err := os.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		hashed, err := assetURL(name)
		if err != nil {
			t.Fatal(err)
		}
		if hashed == PathAssets+name || !strings.HasPrefix(hashed, PathAssets) {
			t.Errorf("%s: hashed URL %s", name, hashed)
		}
		for url, cache := range map[string]string{hashed: "public, max-age=31536000, immutable", PathAssets + name: "no-cache"} {
			w := get(t, h, "GET", url, nil)
			if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), want) {
				t.Errorf("%s: status %d, %d bytes, want the file's %d", url, w.Code, w.Body.Len(), len(want))
			}
			hd := w.Result().Header
			if hd.Get("Content-Type") != ctype || hd.Get("Cache-Control") != cache || hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("ETag") == "" {
				t.Errorf("%s: headers %v", url, hd)
			}
			if w := get(t, h, "GET", url, map[string]string{"If-None-Match": hd.Get("ETag")}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
				t.Errorf("%s: a matching ETag gave %d with %d bytes", url, w.Code, w.Body.Len())
			}
		}
	}
	if w := get(t, h, "GET", "/assets/nothing.js", nil); w.Code != 404 {
		t.Errorf("an unknown asset: %d", w.Code)
	}
	if w := get(t, h, "GET", "/assets/../render.go", nil); w.Code != 404 {
		t.Errorf("a path out of the assets: %d", w.Code)
	}
	if w := get(t, h, "POST", "/assets/dashboard.js", nil); w.Code != 405 || w.Result().Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", w.Code)
	}
	if w := get(t, h, "HEAD", "/assets/dashboard.js", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
	// The licence of the vendored library ships with it, and its version
	// is the one the pages name.
	lic, _ := os.ReadFile("assets/vendor/uplot/LICENSE")
	js, _ := os.ReadFile("assets/vendor/uplot/uPlot.iife.min.js")
	if !bytes.Contains(lic, []byte("MIT License")) || !bytes.Contains(js, []byte("(v"+UPlotVersion+")")) {
		t.Error("uPlot's licence or version is not the one vendored")
	}
}
