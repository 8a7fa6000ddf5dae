package notice

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/core/entity"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/labtrust/labtrust/breach"
)

// Lab is who sends the notice and how people reach them (164.404(c)(1)(E):
// a toll-free number, an email address, a website or a postal address).
type Lab struct {
	Name     string
	Address  []string
	TollFree string
	Email    string
	Website  string
	// PortalURL is where people look up their notice with its code.
	PortalURL string
}

// Monitoring is a credit-monitoring offer with the person's enrolment code.
type Monitoring struct {
	Vendor  string
	Months  int
	Code    string
	URL     string
	EnrolBy time.Time
}

// Letter is one person's notice.
type Letter struct {
	Language  string // "en" or "es"; anything else is English
	Code      string
	Date      time.Time
	Recipient string
	Address   []string
	// Minor or Deceased: the letter goes to the parent or guardian, or
	// to the next of kin or personal representative (164.404(d)(1)).
	Minor, Deceased bool
	Lab             Lab
	What            string // what happened, in plain words
	From, To        time.Time
	Discovered      time.Time
	Elements        []breach.Element
	Doing           string // what the lab is doing
	Monitoring      *Monitoring
	// StateName and StateNote: what the person's state asks its
	// residents' letters to say (ForState fills them).
	StateName, StateNote string
}

// ForState adds the paragraph the law of the person's state asks for
// (its Attorney General's contacts, the right to a police report...),
// in the letter's language; nothing when the state has none.
func (l *Letter) ForState(laws breach.Laws, state string) {
	law := laws[strings.ToUpper(state)]
	if law == nil || len(law.Letter) == 0 {
		return
	}
	note := law.Letter[l.Language]
	if note == "" {
		note = law.Letter["en"]
	}
	l.StateName, l.StateNote = law.Name, note
}

// words holds a language's fixed text.
type words struct {
	title, code, dear, dearMinor, dearDeceased, whatHappened, when, between, discovered, whatInfo, whatDoing,
	whatYouCan, moreInfo, portal, resources, sincerely, monitoring, discoveredOn, residents string
	steps    []string
	elements map[breach.Element]string
	date     func(time.Time) string
}

var monthsES = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

var lang = map[string]words{
	"en": {
		title: "Notice of a data breach", code: "Your notice code", dear: "Dear %s,",
		dearMinor: "To the parent or guardian of %s,", dearDeceased: "To the family or personal representative of %s,",
		whatHappened: "What happened", when: "The breach happened on %s. We discovered it on %s.",
		between:  "The breach happened between %s and %s. We discovered it on %s.",
		whatInfo: "What information was involved", whatDoing: "What we are doing", whatYouCan: "What you can do",
		steps: []string{
			"Review the statements you receive from your health insurer and health care providers. If you see services you did not receive, call them.",
			"Get your free credit reports at www.annualcreditreport.com or 1-877-322-8228, and check them for accounts you did not open.",
			"You can place a free fraud alert or security freeze on your credit file with each consumer reporting agency listed below.",
			"If you believe your identity was stolen, report it at www.identitytheft.gov or 1-877-438-4338, and to your local police.",
			"We will never ask for your Social Security number or payment by phone, text or email. Treat such requests as fraud.",
		},
		monitoring: "We are offering you %d months of credit monitoring from %s at no cost. Enroll at %s with the code %s before %s.",
		moreInfo:   "For more information", portal: "You can read this notice, see what happened to your data and who accessed your record at %s with your notice code and your date of birth.",
		resources: "Consumer reporting agencies and the Federal Trade Commission", sincerely: "Sincerely,",
		residents: "Information for residents of %s",
		elements: map[breach.Element]string{breach.ElementName: "your name", breach.ElementAddress: "your address", breach.ElementDOB: "your date of birth",
			breach.ElementSSN: "your Social Security number", breach.ElementContact: "your phone number or email address", breach.ElementMRN: "your medical record number",
			breach.ElementHealthInsurance: "your health insurance information", breach.ElementOrders: "the laboratory tests ordered for you",
			breach.ElementResults: "your laboratory test results", breach.ElementDiagnoses: "diagnosis codes on your test orders",
			breach.ElementDriversLicense: "your driver's license number", breach.ElementFinancialAccount: "your financial account information"},
		date: func(t time.Time) string { return t.Format("January 2, 2006") },
	},
	"es": {
		title: "Aviso de una violación de datos", code: "Su código de aviso", dear: "Estimado/a %s:",
		dearMinor: "Al padre, madre o tutor de %s:", dearDeceased: "A la familia o al representante personal de %s:",
		whatHappened: "Qué pasó", when: "La violación ocurrió el %s. La descubrimos el %s.",
		between:  "La violación ocurrió entre el %s y el %s. La descubrimos el %s.",
		whatInfo: "Qué información estuvo involucrada", whatDoing: "Qué estamos haciendo", whatYouCan: "Qué puede hacer usted",
		steps: []string{
			"Revise los estados de cuenta de su seguro médico y de sus proveedores de salud. Si ve servicios que no recibió, llámelos.",
			"Obtenga sus informes de crédito gratuitos en www.annualcreditreport.com o al 1-877-322-8228, y revise si hay cuentas que usted no abrió.",
			"Puede pedir sin costo una alerta de fraude o un congelamiento de seguridad de su historial de crédito a cada agencia de informes de crédito que aparece abajo.",
			"Si cree que le robaron su identidad, denúncielo en www.robodeidentidad.gov o al 1-877-438-4338, y a la policía local.",
			"Nunca le pediremos su número de Seguro Social ni pagos por teléfono, mensaje de texto o correo electrónico. Trate esos pedidos como fraude.",
		},
		monitoring: "Le ofrecemos %d meses de monitoreo de crédito de %s sin costo. Inscríbase en %s con el código %s antes del %s.",
		moreInfo:   "Para más información", portal: "Puede leer este aviso, ver qué pasó con sus datos y quién accedió a su expediente en %s con su código de aviso y su fecha de nacimiento.",
		resources: "Agencias de informes de crédito y la Comisión Federal de Comercio", sincerely: "Atentamente,",
		residents: "Información para residentes de %s",
		elements: map[breach.Element]string{breach.ElementName: "su nombre", breach.ElementAddress: "su dirección", breach.ElementDOB: "su fecha de nacimiento",
			breach.ElementSSN: "su número de Seguro Social", breach.ElementContact: "su número de teléfono o correo electrónico", breach.ElementMRN: "su número de expediente médico",
			breach.ElementHealthInsurance: "la información de su seguro médico", breach.ElementOrders: "las pruebas de laboratorio que le ordenaron",
			breach.ElementResults: "sus resultados de laboratorio", breach.ElementDiagnoses: "los códigos de diagnóstico de sus órdenes de laboratorio",
			breach.ElementDriversLicense: "su número de licencia de conducir", breach.ElementFinancialAccount: "la información de su cuenta financiera"},
		date: func(t time.Time) string {
			return fmt.Sprintf("%d de %s de %d", t.Day(), monthsES[t.Month()-1], t.Year())
		},
	},
}

// Resources are the contacts several state laws require a notice to carry
// (e.g. 815 ILCS 530/10(a), N.C. Gen. Stat. § 75-65(d), Md. Code Com. Law
// § 14-3504(g)): the three nationwide consumer reporting agencies and the
// Federal Trade Commission.
var Resources = []string{
	"Equifax: 1-800-685-1111, P.O. Box 740241, Atlanta, GA 30374, www.equifax.com",
	"Experian: 1-888-397-3742, P.O. Box 9554, Allen, TX 75013, www.experian.com",
	"TransUnion: 1-888-909-8872, P.O. Box 2000, Chester, PA 19016, www.transunion.com",
	"Federal Trade Commission: 1-877-438-4338, 600 Pennsylvania Avenue NW, Washington, DC 20580, www.identitytheft.gov",
}

// wordsFor returns the language's text, English by default.
func wordsFor(language string) words {
	if w, ok := lang[strings.ToLower(language)]; ok {
		return w
	}
	return lang["en"]
}

// Sections returns the letter's text as headed sections, in order: what
// the PDF prints and what the portal shows.
func (l *Letter) Sections() []Section {
	w := wordsFor(l.Language)
	var out []Section
	greet := w.dear
	switch {
	case l.Deceased:
		greet = w.dearDeceased
	case l.Minor:
		greet = w.dearMinor
	}
	out = append(out, Section{Body: []string{fmt.Sprintf(greet, l.Recipient)}})
	when := fmt.Sprintf(w.when, w.date(l.From), w.date(l.Discovered))
	switch {
	case l.From.IsZero(): // a record set: no access of theirs is dated
		when = fmt.Sprintf(w.discoveredOn, w.date(l.Discovered))
	case !l.To.IsZero() && l.To.Format(time.DateOnly) != l.From.Format(time.DateOnly):
		when = fmt.Sprintf(w.between, w.date(l.From), w.date(l.To), w.date(l.Discovered))
	}
	out = append(out, Section{Heading: w.whatHappened, Body: []string{l.What, when}})
	var els []string
	for _, e := range l.Elements {
		if s, ok := w.elements[e]; ok {
			els = append(els, s)
		}
	}
	out = append(out, Section{Heading: w.whatInfo, Items: els})
	out = append(out, Section{Heading: w.whatDoing, Body: []string{l.Doing}})
	steps := append([]string(nil), w.steps...)
	if m := l.Monitoring; m != nil {
		steps = append([]string{fmt.Sprintf(w.monitoring, m.Months, m.Vendor, m.URL, m.Code, w.date(m.EnrolBy))}, steps...)
	}
	out = append(out, Section{Heading: w.whatYouCan, Items: steps})
	var more []string
	if l.Lab.TollFree != "" {
		more = append(more, l.Lab.TollFree)
	}
	if l.Lab.Email != "" {
		more = append(more, l.Lab.Email)
	}
	if l.Lab.Website != "" {
		more = append(more, l.Lab.Website)
	}
	if len(l.Lab.Address) > 0 {
		more = append(more, strings.Join(l.Lab.Address, ", "))
	}
	body := []string{strings.Join(more, " · ")}
	if l.Lab.PortalURL != "" {
		body = append(body, fmt.Sprintf(w.portal, l.Lab.PortalURL))
	}
	out = append(out, Section{Heading: w.moreInfo, Body: body})
	out = append(out, Section{Heading: w.resources, Items: Resources})
	if l.StateNote != "" {
		out = append(out, Section{Heading: fmt.Sprintf(w.residents, l.StateName), Body: []string{l.StateNote}})
	}
	out = append(out, Section{Body: []string{w.sincerely, l.Lab.Name}})
	return out
}

// Section is a heading with paragraphs or bullet items.
type Section struct {
	Heading string
	Body    []string
	Items   []string
}

// Fonts are the TrueType fonts letters are set in.
type Fonts struct{ Regular, Bold []byte }

// DejaVu paths: Debian's fonts-dejavu-core, which covers Latin, Greek,
// Cyrillic, Hebrew and Arabic letters.
const (
	dejaVuRegular = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	dejaVuBold    = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)

// DefaultFonts returns DejaVu Sans when installed, else the Go fonts built
// into the binary (Latin, Greek and Cyrillic).
func DefaultFonts() Fonts {
	r, err1 := os.ReadFile(dejaVuRegular)
	b, err2 := os.ReadFile(dejaVuBold)
	if err1 == nil && err2 == nil {
		return Fonts{Regular: r, Bold: b}
	}
	return goFonts()
}

func goFonts() Fonts { return Fonts{Regular: goregular.TTF, Bold: gobold.TTF} }

const family = "letter"

// PDF renders the letter: a US Letter page (or more) in the fonts given.
func (l *Letter) PDF(f Fonts) ([]byte, error) {
	w := wordsFor(l.Language)
	cfg := config.NewBuilder().
		WithCustomFonts([]*entity.CustomFont{
			{Family: family, Style: fontstyle.Normal, Bytes: f.Regular},
			{Family: family, Style: fontstyle.Bold, Bytes: f.Bold},
		}).
		WithDefaultFont(&props.Font{Family: family, Size: 10}).
		WithLeftMargin(20).WithRightMargin(20).WithTopMargin(18).
		WithTitle(w.title, true).WithAuthor(l.Lab.Name, true).
		WithCreationDate(l.Date).
		WithPageNumber().
		Build()
	m := maroto.New(cfg)
	small := props.Text{Family: family, Size: 9}
	bold := props.Text{Family: family, Style: fontstyle.Bold, Size: 10, Top: 3}
	for _, line := range append([]string{l.Lab.Name}, l.Lab.Address...) {
		m.AddAutoRow(text.NewCol(12, line, small))
	}
	m.AddAutoRow(text.NewCol(12, w.date(l.Date), props.Text{Family: family, Size: 9, Top: 4}))
	for i, line := range append([]string{l.Recipient}, l.Address...) {
		p := props.Text{Family: family, Size: 10}
		if i == 0 {
			p.Top = 8
		}
		m.AddAutoRow(text.NewCol(12, line, p))
	}
	m.AddAutoRow(text.NewCol(12, w.title, props.Text{Family: family, Style: fontstyle.Bold, Size: 15, Top: 10}))
	m.AddAutoRow(text.NewCol(12, w.code+": "+l.Code, props.Text{Family: family, Style: fontstyle.Bold, Size: 11, Top: 2, Bottom: 2}))
	for _, s := range l.Sections() {
		if s.Heading != "" {
			m.AddAutoRow(text.NewCol(12, s.Heading, bold))
		}
		for _, p := range s.Body {
			if p != "" {
				m.AddAutoRow(text.NewCol(12, p, props.Text{Family: family, Size: 10, Top: 1.5}))
			}
		}
		for _, it := range s.Items {
			m.AddAutoRow(text.NewCol(12, "•  "+it, props.Text{Family: family, Size: 10, Top: 1, Left: 3}))
		}
	}
	doc, err := m.Generate()
	if err != nil {
		return nil, fmt.Errorf("notice: letter PDF: %w", err)
	}
	return doc.GetBytes(), nil
}
