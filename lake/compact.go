package lake

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/keymeter/keymeter"
)

// Compaction defaults.
const (
	DefaultSmallBytes  = 64 << 20
	DefaultTargetBytes = 512 << 20
)

// CompactOptions say which files compaction merges. The zero value is the
// default.
type CompactOptions struct {
	// SmallBytes: a file smaller than this is small, and merged with the
	// other small files of its day. 0 means DefaultSmallBytes.
	SmallBytes int64
	// TargetBytes bounds the inputs of one merge, and so the size of the
	// merged file. 0 means DefaultTargetBytes.
	TargetBytes int64
}

// Merge is small files of one table and day to be merged into one.
type Merge struct {
	Table  string
	Date   time.Time
	Inputs []Entry // oldest events first
}

// PlanCompaction returns the merges that compact the files entries list:
// for each table and day, its small files, oldest events first, in
// merges of at least two files whose sizes add up to at most TargetBytes.
// Files of other sizes are left alone. Pass the entries of days that are
// closed (no batch writes to them any more): a merge of an open day is
// correct, but soon has new small files beside it.
//
// It returns a keymeter.EINVALID error if an entry's table or path does
// not match the lake's layout, or if two entries list the same file.
func PlanCompaction(entries []Entry, opts CompactOptions) ([]Merge, error) {
	small := cmp.Or(opts.SmallBytes, DefaultSmallBytes)
	target := cmp.Or(opts.TargetBytes, DefaultTargetBytes)
	type day struct {
		table int
		date  time.Time
	}
	groups := map[day][]Entry{}
	seen := map[string]bool{}
	for _, e := range entries {
		t, err := checkEntry(e)
		if err != nil {
			return nil, err
		}
		if seen[e.Path] {
			return nil, keymeter.Errorf(keymeter.EINVALID, "lake file %s is listed twice", e.Path)
		}
		seen[e.Path] = true
		if e.Bytes < small {
			k := day{tableIndex(t), e.Date.UTC()}
			groups[k] = append(groups[k], e)
		}
	}
	days := make([]day, 0, len(groups))
	for k := range groups {
		days = append(days, k)
	}
	slices.SortFunc(days, func(a, b day) int {
		return cmp.Or(cmp.Compare(a.table, b.table), a.date.Compare(b.date))
	})
	var merges []Merge
	for _, d := range days {
		files := groups[d]
		slices.SortFunc(files, func(a, b Entry) int {
			return cmp.Or(a.MinTime.Compare(b.MinTime), strings.Compare(a.Path, b.Path))
		})
		var cur []Entry
		var size int64
		emit := func() {
			if len(cur) >= 2 {
				merges = append(merges, Merge{Table: tables[d.table].Name, Date: d.date, Inputs: cur})
			}
			cur, size = nil, 0
		}
		for _, e := range files {
			if size+e.Bytes > target {
				emit()
			}
			cur = append(cur, e)
			size += e.Bytes
		}
		emit()
	}
	return merges, nil
}

// checkEntry returns the table of e, or an error unless e's path is in
// the partition of its table and date.
func checkEntry(e Entry) (*Table, error) {
	t, err := TableNamed(e.Table)
	if err != nil {
		return nil, err
	}
	dir := partitionDir(t.Name, dayOf(e.Date.UnixMicro()))
	if path.Dir(e.Path) != dir || !e.Date.Equal(dayTime(dayOf(e.Date.UnixMicro()))) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "lake file %s is not in the partition of %s on %s (%s)", e.Path, e.Table, e.Date.UTC().Format(time.DateOnly), dir)
	}
	return t, nil
}

// MergedFileName returns the name of the file that merges inputs: the
// same for the same inputs, so that a merge retried replaces the file of
// the attempt before.
func MergedFileName(inputs []Entry) string {
	h := sha256.New()
	for _, e := range inputs {
		fmt.Fprintf(h, "%s\x00%s\x00", e.Path, e.Checksum)
	}
	return "c-" + hex.EncodeToString(h.Sum(nil)[:16]) + ".parquet"
}

// Merge writes the rows of m's inputs, in order, into one file beside
// them, in row groups of the writer's size, and returns its entry. The
// store then replaces m.Inputs by it in its manifest, in one
// transaction, and deletes the inputs once no reader can still be using
// them; Merge deletes nothing.
//
// Each input is checked against its entry (size, checksum, rows and
// schema) before it is read; one that differs fails the merge, and no
// file is left.
func (w *Writer) Merge(ctx context.Context, m Merge) (Entry, error) {
	if len(m.Inputs) < 2 {
		return Entry{}, keymeter.Errorf(keymeter.EINVALID, "lake merge of %s on %s: %d files, want at least 2", m.Table, m.Date.Format(time.DateOnly), len(m.Inputs))
	}
	t, err := TableNamed(m.Table)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range m.Inputs {
		if _, err := checkEntry(e); err != nil {
			return Entry{}, err
		}
		if e.Table != m.Table || !e.Date.Equal(m.Date) {
			return Entry{}, keymeter.Errorf(keymeter.EINVALID, "lake merge of %s on %s: file %s is of %s on %s", m.Table, m.Date.Format(time.DateOnly), e.Path, e.Table, e.Date.Format(time.DateOnly))
		}
	}
	day := dayOf(m.Date.UnixMicro())
	p := partitionDir(t.Name, day) + "/" + MergedFileName(m.Inputs)
	pending, err := w.root.Create(ctx, p)
	if err != nil {
		return Entry{}, err
	}
	out := &hashingWriter{pending: pending, hash: sha256.New()}
	options := append(w.opts.config(t), parquet.KeyValueMetadata("keymeter.merged", mergedNames(m.Inputs)))
	pw := parquet.NewWriter(out, options...)

	entry := Entry{Table: t.Name, Date: dayTime(day), Path: p, MinTime: m.Inputs[0].MinTime, MaxTime: m.Inputs[0].MaxTime}
	for _, e := range m.Inputs {
		if err := copyFile(ctx, w.root, t, e, pw); err != nil {
			pending.Abort()
			return Entry{}, fmt.Errorf("merge %s into %s: %w", e.Path, p, err)
		}
		entry.Rows += e.Rows
		entry.MinTime = minTime(entry.MinTime, e.MinTime)
		entry.MaxTime = maxTime(entry.MaxTime, e.MaxTime)
	}
	err = pw.Close()
	if err == nil {
		err = out.err
	}
	if err != nil {
		pending.Abort()
		return Entry{}, fmt.Errorf("write %s: %w", p, err)
	}
	if err := pending.Commit(); err != nil {
		return Entry{}, err
	}
	entry.Bytes = out.n
	entry.Checksum = hex.EncodeToString(out.hash.Sum(nil))
	return entry, nil
}

func mergedNames(inputs []Entry) string {
	names := make([]string, len(inputs))
	for i, e := range inputs {
		names[i] = path.Base(e.Path)
	}
	return strings.Join(names, ",")
}

// copyFile checks the file of e against e and copies its rows to pw.
func copyFile(ctx context.Context, root Root, t *Table, e Entry, pw *parquet.Writer) error {
	f, err := root.Open(ctx, e.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Size() != e.Bytes {
		return keymeter.Errorf(keymeter.ECONFLICT, "lake file %s has %d bytes, its entry says %d", e.Path, f.Size(), e.Bytes)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, f.Size())); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != e.Checksum {
		return keymeter.Errorf(keymeter.ECONFLICT, "lake file %s has checksum %s, its entry says %s", e.Path, sum, e.Checksum)
	}
	pf, err := parquet.OpenFile(f, f.Size())
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if !parquet.EqualNodes(pf.Schema(), t.schema) {
		return keymeter.Errorf(keymeter.ECONFLICT, "lake file %s does not have the columns of table %s", e.Path, t.Name)
	}
	if pf.NumRows() != e.Rows {
		return keymeter.Errorf(keymeter.ECONFLICT, "lake file %s has %d rows, its entry says %d", e.Path, pf.NumRows(), e.Rows)
	}
	var copied int64
	for _, rg := range pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := rg.Rows()
		n, err := parquet.CopyRows(pw, rows)
		rows.Close()
		copied += n
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("copy rows: %w", err)
		}
	}
	if copied != e.Rows {
		return fmt.Errorf("copied %d rows of %d", copied, e.Rows)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
