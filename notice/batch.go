package notice

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// A Batch writes many letters into one print-ready PDF for a mail house.
//
// maroto lays a letter out in about 16 ms, which is 44 hours for the 10M
// letters of a large breach (github.com/phpdave11/gofpdf, the engine under
// it, takes about 1 ms). A batch shares what letters have in common: the
// two fonts are embedded once per file, and a paragraph printed in more
// than one letter (what happened, what we are doing, the steps, the
// agencies) is set once as a Form XObject that every later letter places
// with one operator. Only the person's own lines (address, greeting,
// dates, code) are set per letter. The text is real text in a Type0 font
// with a ToUnicode map, so it can be searched, read aloud and checked
// with pdftotext; glyph indices and advances come from
// golang.org/x/image/font/sfnt.
type Batch struct {
	w       *bufio.Writer
	n       int64   // bytes written
	offsets []int64 // by object number; 0: not written yet
	fonts   [2]*pdfFont
	paras   map[paraKey]*para
	tmpls   map[string]*letterTemplate
	runs    map[runKey]*runForm
	ops     []byte // page operators, reused
	laid    []laidOut
	pageOps [][]byte
	xobjs   []int // object numbers of the Form XObjects, in order
	pages   []int
	letters int
	zbuf    bytes.Buffer
	zw      *zlib.Writer
	err     error
}

// Fixed object numbers: the rest are allocated as they are written.
const (
	objCatalog   = 1
	objPages     = 2
	objResources = 3
	objFirstFont = 4 // regular, then bold: Type0, CIDFont, descriptor, file, ToUnicode each
	objsPerFont  = 5
	objFirstFree = objFirstFont + 2*objsPerFont
)

// Page geometry in points: US Letter, the margins of the maroto letter.
const (
	pageW, pageH     = 612.0, 792.0
	marginL, marginR = 56.69, 56.69
	marginT, marginB = 51.02, 45.35
	textW            = pageW - marginL - marginR
)

// BatchFonts are the letter fonts parsed and deflated once, for any
// number of batches (safe for concurrent use).
type BatchFonts struct {
	fonts [2]*fontFile
}

type fontFile struct {
	f        *sfnt.Font
	rawLen   int
	deflated []byte
	name     string
	upem     float64
	ascent   int
	descent  int
	bbox     [4]int
}

// NewBatchFonts prepares the fonts for batches.
func NewBatchFonts(f Fonts) (*BatchFonts, error) {
	var bf BatchFonts
	for i, raw := range [][]byte{f.Regular, f.Bold} {
		ff, err := newFontFile(raw)
		if err != nil {
			return nil, err
		}
		bf.fonts[i] = ff
	}
	return &bf, nil
}

// pdfFont is a font as one batch uses it: which glyphs, for the widths
// and the Unicode map written at the end.
type pdfFont struct {
	*fontFile
	buf sfnt.Buffer
	// fast holds glyph<<16 | advance+1 for the runes below fastRunes
	// (Latin, Greek, Cyrillic): a map look-up per character was a
	// quarter of a letter's time.
	fast    [fastRunes]uint32
	upem    float64
	gids    map[rune]uint16
	widths  map[uint16]int // advance in 1/1000 em
	unicode map[uint16]rune
}

const fastRunes = 0x500

func (ff *fontFile) forBatch() *pdfFont {
	return &pdfFont{fontFile: ff, gids: map[rune]uint16{}, widths: map[uint16]int{}, unicode: map[uint16]rune{}}
}

func newFontFile(raw []byte) (*fontFile, error) {
	f, err := sfnt.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("notice: font: %w", err)
	}
	pf := &fontFile{f: f, rawLen: len(raw), upem: float64(f.UnitsPerEm())}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(raw)
	zw.Close()
	pf.deflated = z.Bytes()
	var buf sfnt.Buffer
	name, err := f.Name(&buf, sfnt.NameIDPostScript)
	if err != nil || name == "" {
		name = "LetterFont"
	}
	pf.name = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || strings.ContainsRune("()<>[]{}/%#", r) {
			return -1
		}
		return r
	}, name)
	ppem := fixed.Int26_6(f.UnitsPerEm()) << 6
	m, err := f.Metrics(&buf, ppem, font.HintingNone)
	if err != nil {
		return nil, fmt.Errorf("notice: font metrics: %w", err)
	}
	pf.ascent, pf.descent = pf.em(m.Ascent), -pf.em(m.Descent)
	b, err := f.Bounds(&buf, ppem, font.HintingNone)
	if err != nil {
		return nil, fmt.Errorf("notice: font bounds: %w", err)
	}
	// sfnt's y axis points down; PDF's points up.
	pf.bbox = [4]int{pf.em(b.Min.X), -pf.em(b.Max.Y), pf.em(b.Max.X), -pf.em(b.Min.Y)}
	return pf, nil
}

// em converts font units (as 26.6 at ppem = units per em) to 1/1000 em.
func (pf *fontFile) em(v fixed.Int26_6) int {
	return int(float64(v) / 64 * 1000 / pf.upem)
}

// glyph returns the glyph for r and its advance in 1/1000 em.
func (pf *pdfFont) glyph(r rune) (uint16, int) {
	if r >= 0 && r < fastRunes {
		if v := pf.fast[r]; v != 0 {
			return uint16(v >> 16), int(v&0xFFFF) - 1
		}
	} else if g, ok := pf.gids[r]; ok {
		return g, pf.widths[g]
	}
	gi, err := pf.f.GlyphIndex(&pf.buf, r)
	if err != nil {
		gi = 0
	}
	g := uint16(gi)
	if _, ok := pf.widths[g]; !ok {
		adv, err := pf.f.GlyphAdvance(&pf.buf, gi, fixed.Int26_6(pf.f.UnitsPerEm())<<6, font.HintingNone)
		if err != nil {
			adv = 0
		}
		pf.widths[g] = pf.em(adv)
	}
	if g != 0 {
		if _, ok := pf.unicode[g]; !ok {
			pf.unicode[g] = r
		}
	}
	if r >= 0 && r < fastRunes {
		pf.fast[r] = uint32(g)<<16 | uint32(pf.widths[g]+1)&0xFFFF
	} else {
		pf.gids[r] = g
	}
	return g, pf.widths[g]
}

// width of s at size points.
func (pf *pdfFont) width(s string, size float64) float64 {
	w := 0
	for _, r := range s {
		_, a := pf.glyph(r)
		w += a
	}
	return float64(w) * size / 1000
}

// str appends s as glyph indices for a Tj operator: a literal string of
// two bytes a glyph (Identity-H), half the bytes of a hex string. At ten
// million letters the PDFs' bytes are a large part of the time: writing
// them costs the kernel about as much as setting them.
func (pf *pdfFont) str(dst []byte, s string) []byte {
	dst = append(dst, '(')
	for _, r := range s {
		g, _ := pf.glyph(r)
		dst = appendLiteral(appendLiteral(dst, byte(g>>8)), byte(g))
	}
	return append(dst, ')')
}

// appendLiteral appends c inside a PDF literal string: the delimiters and
// the backslash escaped, and the line ends too (a reader would turn a raw
// CR into LF); every other byte stands for itself.
func appendLiteral(dst []byte, c byte) []byte {
	switch c {
	case '(', ')', '\\':
		return append(dst, '\\', c)
	case '\r':
		return append(dst, '\\', 'r')
	case '\n':
		return append(dst, '\\', 'n')
	}
	return append(dst, c)
}

// style is how a run of text is set.
type style struct {
	bold   bool
	size   float64
	indent float64 // left indent of every line
	bullet bool    // "•" hangs in the indent
	top    float64 // space above
}

func (s style) lead() float64 { return s.size * 1.2 }

type paraKey struct {
	text string
	st   style
}

// para is a paragraph laid out in lines; xobj is its Form XObject once it
// has been printed twice.
type para struct {
	lines  []string
	height float64
	uses   int
	xobj   int // index into Batch.xobjs + 1; 0: none yet
}

// maxParas bounds the paragraph cache: personal lines are laid out once
// and would otherwise pile up.
const maxParas = 4096

// NewBatch starts a PDF on w with the fonts given.
func NewBatch(w io.Writer, f *BatchFonts) *Batch {
	b := &Batch{w: bufio.NewWriterSize(w, 256<<10), offsets: make([]int64, objFirstFree), paras: map[paraKey]*para{}, tmpls: map[string]*letterTemplate{}, runs: map[runKey]*runForm{}}
	b.fonts[0], b.fonts[1] = f.fonts[0].forBatch(), f.fonts[1].forBatch()
	b.write("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

func (b *Batch) write(s string) {
	if b.err != nil {
		return
	}
	n, err := b.w.WriteString(s)
	b.n += int64(n)
	b.err = err
}

func (b *Batch) writeBytes(p []byte) {
	if b.err != nil {
		return
	}
	n, err := b.w.Write(p)
	b.n += int64(n)
	b.err = err
}

// newObj allocates an object number.
func (b *Batch) newObj() int {
	b.offsets = append(b.offsets, 0)
	return len(b.offsets) - 1
}

func (b *Batch) begin(obj int) {
	b.offsets[obj] = b.n
	b.write(strconv.Itoa(obj) + " 0 obj\n")
}

// stream writes a stream object, deflated when it is worth it.
func (b *Batch) stream(obj int, dict string, data []byte, deflate bool) {
	if deflate {
		b.zbuf.Reset()
		if b.zw == nil {
			b.zw, _ = zlib.NewWriterLevel(&b.zbuf, zlib.BestSpeed)
		} else {
			b.zw.Reset(&b.zbuf)
		}
		b.zw.Write(data)
		b.zw.Close()
		data = b.zbuf.Bytes()
		dict += " /Filter /FlateDecode"
	}
	b.rawStream(obj, dict, data)
}

func (b *Batch) rawStream(obj int, dict string, data []byte) {
	b.begin(obj)
	b.write("<<" + dict + " /Length " + strconv.Itoa(len(data)) + ">>\nstream\n")
	b.writeBytes(data)
	b.write("\nendstream\nendobj\n")
}

// layout wraps text to the width left by the style's indent, once per
// batch.
func (b *Batch) layout(text string, st style) *para {
	k := paraKey{text, st}
	if p, ok := b.paras[k]; ok {
		return p
	}
	p := b.wrap(text, st)
	if len(b.paras) >= maxParas {
		clear(b.paras)
	}
	b.paras[k] = p
	return p
}

// wrap lays text out in lines.
func (b *Batch) wrap(text string, st style) *para {
	f := b.fonts[0]
	if st.bold {
		f = b.fonts[1]
	}
	avail := (textW - st.indent) * 1000 / st.size // in 1/1000 em
	_, space := f.glyph(' ')
	var lines []string
	for _, hard := range strings.Split(text, "\n") {
		// Greedy: widths are summed per word, lines cut from the text.
		start, end, w := -1, 0, 0
		for i := 0; i < len(hard); {
			for i < len(hard) && hard[i] == ' ' {
				i++
			}
			if i == len(hard) {
				break
			}
			j := i
			ww := 0
			for j < len(hard) && hard[j] != ' ' {
				r, n := utf8.DecodeRuneInString(hard[j:])
				_, a := f.glyph(r)
				ww += a
				j += n
			}
			switch {
			case start < 0:
				start, end, w = i, j, ww
			case float64(w+space+ww) > avail:
				lines = append(lines, hard[start:end])
				start, end, w = i, j, ww
			default:
				end, w = j, w+space+ww
			}
			i = j
		}
		if start < 0 {
			lines = append(lines, "")
		} else {
			lines = append(lines, hard[start:end])
		}
	}
	return &para{lines: lines, height: st.top + float64(len(lines))*st.lead()}
}

// draw appends the operators that set p's lines with the top-left corner
// of its first line's box at (x, y).
func (b *Batch) draw(dst []byte, p *para, st style, x, y float64) []byte {
	fi := 0
	if st.bold {
		fi = 1
	}
	f := b.fonts[fi]
	asc := float64(f.ascent) * st.size / 1000
	dst = append(dst, "BT /F"...)
	dst = strconv.AppendInt(dst, int64(fi+1), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendFloat(dst, st.size, 'f', -1, 64)
	dst = append(dst, " Tf\n"...)
	y -= st.top
	for i, line := range p.lines {
		lx := x + st.indent
		if i == 0 && st.bullet {
			dst = append(dst, "1 0 0 1 "...)
			dst = appendNum(dst, x+st.indent-9)
			dst = append(dst, ' ')
			dst = appendNum(dst, y-asc-float64(i)*st.lead())
			dst = append(dst, " Tm "...)
			dst = f.str(dst, "•")
			dst = append(dst, " Tj\n"...)
		}
		dst = append(dst, "1 0 0 1 "...)
		dst = appendNum(dst, lx)
		dst = append(dst, ' ')
		dst = appendNum(dst, y-asc-float64(i)*st.lead())
		dst = append(dst, " Tm "...)
		dst = f.str(dst, line)
		dst = append(dst, " Tj\n"...)
	}
	return append(dst, "ET\n"...)
}

// appendNum writes v with two decimals (what strconv's 'f', 2 gives, in
// integer arithmetic: float formatting was a tenth of a letter's time).
func appendNum(dst []byte, v float64) []byte {
	c := int64(math.Round(v * 100))
	if c < 0 {
		dst = append(dst, '-')
		c = -c
	}
	dst = strconv.AppendInt(dst, c/100, 10)
	f := c % 100
	return append(dst, '.', byte('0'+f/10), byte('0'+f%10))
}

// place puts p on the page at (x, y): as its XObject when it has one
// (made on its second use), else set inline.
func (b *Batch) place(dst []byte, p *para, st style, x, y float64) []byte {
	p.uses++
	if p.uses == 2 && p.xobj == 0 {
		p.xobj = b.form(b.draw(nil, p, st, 0, 0), p.height)
	}
	if p.xobj == 0 {
		return b.draw(dst, p, st, x, y)
	}
	return doForm(dst, p.xobj, x, y)
}

// doForm places Form XObject /X<xobj> with its top-left corner at (x, y).
func doForm(dst []byte, xobj int, x, y float64) []byte {
	dst = append(dst, "q 1 0 0 1 "...)
	dst = appendNum(dst, x)
	dst = append(dst, ' ')
	dst = appendNum(dst, y)
	dst = append(dst, " cm /X"...)
	dst = strconv.AppendInt(dst, int64(xobj), 10)
	return append(dst, " Do Q\n"...)
}

// placeRun sets run, template paragraphs one under the other from y
// down: the first time each on its own, then as one Form XObject (a
// letter's page was otherwise a placement per paragraph, a third of its
// bytes).
func (b *Batch) placeRun(dst []byte, t *letterTemplate, run []laidOut, y float64) []byte {
	if len(run) == 1 {
		return b.place(dst, run[0].p, run[0].st, marginL, y)
	}
	k := runKey{t, run[0].tmpl, run[len(run)-1].tmpl}
	r := b.runs[k]
	if r == nil {
		r = &runForm{}
		b.runs[k] = r
	}
	r.uses++
	if r.uses == 1 {
		for _, bl := range run {
			dst = b.place(dst, bl.p, bl.st, marginL, y)
			y -= bl.p.height
		}
		return dst
	}
	if r.xobj == 0 {
		var form []byte
		yy := 0.0
		for _, bl := range run {
			form = b.draw(form, bl.p, bl.st, 0, yy)
			yy -= bl.p.height
		}
		r.xobj = b.form(form, -yy)
	}
	return doForm(dst, r.xobj, marginL, y)
}

// form writes ops, drawn from (0, 0) down to -height, as a Form XObject
// and returns its number for doForm.
func (b *Batch) form(ops []byte, height float64) int {
	obj := b.newObj()
	b.stream(obj, fmt.Sprintf(" /Type /XObject /Subtype /Form /BBox [0 %.2f %.2f 0] /Resources %d 0 R", -height-2, textW+20, objResources), ops, true)
	b.xobjs = append(b.xobjs, obj)
	return len(b.xobjs)
}

// block is one paragraph of a letter as it will be placed.
type block struct {
	text string
	st   style
	// keep: a heading, kept on the page of the paragraph after it
	keep bool
}

// blocks is the letter as paragraphs in order: the same text and order as
// the single-letter PDF.
func (l *Letter) blocks() []block {
	w := wordsFor(l.Language)
	small := style{size: 9}
	var out []block
	for _, line := range append([]string{l.Lab.Name}, l.Lab.Address...) {
		out = append(out, block{line, small, false})
	}
	out = append(out, block{w.date(l.Date), style{size: 9, top: 8}, false})
	for i, line := range append([]string{l.Recipient}, l.Address...) {
		st := style{size: 10}
		if i == 0 {
			st.top = 16
		}
		out = append(out, block{line, st, false})
	}
	out = append(out, block{w.title, style{bold: true, size: 15, top: 16}, true})
	out = append(out, block{w.code + ": " + l.Code, style{bold: true, size: 11, top: 4}, false})
	for _, s := range l.Sections() {
		if s.Heading != "" {
			out = append(out, block{s.Heading, style{bold: true, size: 10, top: 7}, true})
		}
		for _, p := range s.Body {
			if p != "" {
				out = append(out, block{p, style{size: 10, top: 3}, false})
			}
		}
		for _, it := range s.Items {
			out = append(out, block{it, style{size: 10, top: 2, indent: 17, bullet: true}, false})
		}
	}
	return out
}

// Placeholders for a letter's own text in its template.
const (
	phRecipient  = "\x01R\x01"
	phAddress    = "\x01A\x01" // a block standing for the address lines
	phCode       = "\x01C\x01"
	phMonitoring = "\x01M\x01"
)

// letterTemplate is a letter's paragraphs with the person's own text as
// placeholders: everything else is laid out once for every letter of the
// same kind (language, dates, elements, state, offer...).
type letterTemplate struct {
	blocks []tmplBlock
}

type tmplBlock struct {
	block
	p *para // laid out; nil when the text holds a placeholder
}

// templateKey names the letters that share a template: all but the
// person's name, address and codes.
func templateKey(l *Letter) string {
	var k strings.Builder
	k.Grow(len(l.What) + len(l.Doing) + len(l.StateNote) + 256)
	sep := func(s string) { k.WriteString(s); k.WriteByte(0) }
	sep(l.Language)
	sep(strconv.FormatBool(l.Minor) + strconv.FormatBool(l.Deceased))
	for _, t := range []time.Time{l.Date, l.From, l.To, l.Discovered} {
		sep(strconv.FormatInt(t.Unix(), 10))
	}
	for _, e := range l.Elements {
		sep(string(e))
	}
	sep("")
	sep(l.What)
	sep(l.Doing)
	sep(l.StateName)
	sep(l.StateNote)
	if m := l.Monitoring; m != nil {
		sep(m.Vendor)
		sep(strconv.Itoa(m.Months))
		sep(m.URL)
		sep(strconv.FormatInt(m.EnrolBy.Unix(), 10))
	}
	sep("")
	lab := l.Lab
	for _, s := range append([]string{lab.Name, lab.TollFree, lab.Email, lab.Website, lab.PortalURL}, lab.Address...) {
		sep(s)
	}
	return k.String()
}

func (b *Batch) template(l *Letter) *letterTemplate {
	key := templateKey(l)
	if t, ok := b.tmpls[key]; ok {
		return t
	}
	tl := *l
	tl.Recipient, tl.Address, tl.Code = phRecipient, []string{phAddress}, phCode
	if l.Monitoring != nil {
		m := *l.Monitoring
		m.Code = phMonitoring
		tl.Monitoring = &m
	}
	t := &letterTemplate{}
	for _, bl := range tl.blocks() {
		tb := tmplBlock{block: bl}
		if !strings.Contains(bl.text, "\x01") {
			tb.p = b.layout(bl.text, bl.st)
		}
		t.blocks = append(t.blocks, tb)
	}
	if len(b.tmpls) >= 256 {
		clear(b.tmpls)
		clear(b.runs)
	}
	b.tmpls[key] = t
	return t
}

// laidOut is a block of one letter, laid out.
type laidOut struct {
	p    *para
	st   style
	keep bool
	tmpl int // the template's block, -1 for the person's own text
}

// runKey names a run of a template's paragraphs set one after the other
// on one page (its first and last blocks: the person's address, between
// two runs, can be no lines at all).
type runKey struct {
	t           *letterTemplate
	first, last int
}

// runForm is such a run as one Form XObject: a page then places a
// handful of runs between the person's own lines, not each paragraph.
type runForm struct {
	uses int
	xobj int // index into Batch.xobjs + 1; 0: none yet
}

// Add sets one letter on new pages of the batch.
func (b *Batch) Add(l *Letter) error {
	if b.err != nil {
		return b.err
	}
	t := b.template(l)
	mon := ""
	if l.Monitoring != nil {
		mon = l.Monitoring.Code
	}
	blocks := b.laid[:0]
	for k, tb := range t.blocks {
		switch {
		case tb.p != nil:
			blocks = append(blocks, laidOut{tb.p, tb.st, tb.keep, k})
		case tb.text == phAddress:
			for _, line := range l.Address {
				blocks = append(blocks, laidOut{b.layoutOnce(line, tb.st), tb.st, false, -1})
			}
		default:
			text := tb.text
			for _, r := range [...][2]string{{phRecipient, l.Recipient}, {phCode, l.Code}, {phMonitoring, mon}} {
				if strings.Contains(text, r[0]) {
					text = strings.ReplaceAll(text, r[0], r[1])
				}
			}
			blocks = append(blocks, laidOut{b.layoutOnce(text, tb.st), tb.st, tb.keep, -1})
		}
	}
	b.laid = blocks
	pages := b.pageOps[:0]
	cur := b.ops[:0]
	y := pageH - marginT
	// Template paragraphs are gathered into runs, set when the run ends.
	run, runY := -1, 0.0
	endRun := func(end int) {
		if run >= 0 {
			cur = b.placeRun(cur, t, blocks[run:end], runY)
			run = -1
		}
	}
	for i, bl := range blocks {
		need := bl.p.height
		if bl.keep && i+1 < len(blocks) {
			need += blocks[i+1].p.height
		}
		if y-need < marginB+14 && (len(cur) > 0 || run >= 0) {
			endRun(i)
			pages = append(pages, cur)
			cur = nil
			y = pageH - marginT
		}
		if bl.tmpl >= 0 {
			if run < 0 {
				run, runY = i, y
			}
		} else {
			endRun(i)
			cur = b.place(cur, bl.p, bl.st, marginL, y)
		}
		y -= bl.p.height
	}
	endRun(len(blocks))
	pages = append(pages, cur)
	w := wordsFor(l.Language)
	foot := style{size: 8}
	for i, ops := range pages {
		// Every page carries the notice code, so a mail house can check
		// that a letter's pages stay together.
		f := b.layoutOnce(w.code+" "+l.Code+" · "+strconv.Itoa(i+1)+"/"+strconv.Itoa(len(pages)), foot)
		ops = b.draw(ops, f, foot, marginL, marginB)
		pages[i] = ops
		cobj, pobj := b.newObj(), b.newObj()
		b.stream(cobj, "", ops, false)
		b.begin(pobj)
		b.write("<< /Type /Page /Parent " + strconv.Itoa(objPages) + " 0 R /MediaBox [0 0 612 792] /Resources " + strconv.Itoa(objResources) +
			" 0 R /Contents " + strconv.Itoa(cobj) + " 0 R >>\nendobj\n")
		b.pages = append(b.pages, pobj)
	}
	// The first page's buffer is kept for the next letter's first page.
	b.ops = pages[0][:0]
	b.pageOps = pages[:0]
	b.letters++
	return b.err
}

// layoutOnce lays out a letter's own line without keeping it.
func (b *Batch) layoutOnce(text string, st style) *para {
	if p, ok := b.paras[paraKey{text, st}]; ok {
		return p
	}
	return b.wrap(text, st)
}

// Letters is how many letters were added.
func (b *Batch) Letters() int { return b.letters }

// Pages is how many pages were written.
func (b *Batch) Pages() int { return len(b.pages) }

// Close writes the fonts, the page tree and the cross-reference table.
// It does not close the underlying writer.
func (b *Batch) Close() error {
	for i, f := range b.fonts {
		b.writeFont(objFirstFont+i*objsPerFont, f)
	}
	var res strings.Builder
	fmt.Fprintf(&res, "<< /Font << /F1 %d 0 R /F2 %d 0 R >>", objFirstFont, objFirstFont+objsPerFont)
	if len(b.xobjs) > 0 {
		res.WriteString(" /XObject <<")
		for i, o := range b.xobjs {
			fmt.Fprintf(&res, " /X%d %d 0 R", i+1, o)
		}
		res.WriteString(" >>")
	}
	res.WriteString(" >>")
	b.begin(objResources)
	b.write(res.String() + "\nendobj\n")
	b.begin(objPages)
	var kids strings.Builder
	for _, p := range b.pages {
		kids.WriteString(strconv.Itoa(p))
		kids.WriteString(" 0 R ")
	}
	b.write(fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s] >>\nendobj\n", len(b.pages), kids.String()))
	b.begin(objCatalog)
	b.write(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>\nendobj\n", objPages))
	xref := b.n
	b.write(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(b.offsets)))
	for _, off := range b.offsets[1:] {
		b.write(fmt.Sprintf("%010d 00000 n \n", off))
	}
	b.write(fmt.Sprintf("trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(b.offsets), objCatalog, xref))
	if b.err != nil {
		return b.err
	}
	return b.w.Flush()
}

// writeFont embeds the whole TrueType font (a batch holds thousands of
// names, so subsetting would save little) with the widths and the
// Unicode map of the glyphs used.
func (b *Batch) writeFont(first int, f *pdfFont) {
	type0, cid, desc, file, tounicode := first, first+1, first+2, first+3, first+4
	gids := make([]uint16, 0, len(f.widths))
	for g := range f.widths {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	var w strings.Builder
	for _, g := range gids {
		fmt.Fprintf(&w, "%d [%d] ", g, f.widths[g])
	}
	b.begin(type0)
	b.write(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>\nendobj\n", f.name, cid, tounicode))
	b.begin(cid)
	b.write(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW 1000 /W [%s] >>\nendobj\n", f.name, desc, w.String()))
	b.begin(desc)
	b.write(fmt.Sprintf("<< /Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R >>\nendobj\n",
		f.name, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3], f.ascent, f.descent, f.ascent, file))
	b.rawStream(file, " /Length1 "+strconv.Itoa(f.rawLen)+" /Filter /FlateDecode", f.deflated)
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	var mapped []uint16
	for _, g := range gids {
		if _, ok := f.unicode[g]; ok {
			mapped = append(mapped, g)
		}
	}
	for len(mapped) > 0 {
		n := min(100, len(mapped))
		fmt.Fprintf(&cm, "%d beginbfchar\n", n)
		for _, g := range mapped[:n] {
			fmt.Fprintf(&cm, "<%04X> <%s>\n", g, utf16Hex(f.unicode[g]))
		}
		cm.WriteString("endbfchar\n")
		mapped = mapped[n:]
	}
	cm.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	b.stream(tounicode, "", []byte(cm.String()), true)
}

func utf16Hex(r rune) string {
	if r >= 0x10000 {
		r -= 0x10000
		return fmt.Sprintf("%04X%04X", 0xD800+(r>>10), 0xDC00+(r&0x3FF))
	}
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	return fmt.Sprintf("%04X", r)
}
