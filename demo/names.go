package demo

// Synthetic name and place lists. Every name here is common enough that no
// combination identifies a real person; addresses use real state and city
// names with invented street numbers, 555 phone numbers and the reserved
// example.com/.org/.net mail domains.

// name is a display form and the ASCII form used to build e-mail addresses.
type name struct{ text, ascii string }

func n(s string) name            { return name{s, s} }
func nn(text, ascii string) name { return name{text, ascii} }

type origin int

const (
	originEN origin = iota
	originES
	originVI
	originZH
)

var originWeights = []float64{0.58, 0.27, 0.08, 0.07}

var givenF = [...][]name{
	originEN: {n("Mary"), n("Patricia"), n("Jennifer"), n("Linda"), n("Elizabeth"), n("Barbara"), n("Susan"),
		n("Jessica"), n("Sarah"), n("Karen"), n("Emily"), n("Ashley"), n("Megan"), n("Olivia"), n("Emma"),
		n("Abigail"), n("Hannah"), n("Grace"), n("Chloe"), n("Brittany"), n("Amanda"), n("Rachel"), n("Zoë")},
	originES: {nn("María", "maria"), n("Guadalupe"), nn("Sofía", "sofia"), nn("Lucía", "lucia"), n("Carmen"),
		n("Rosa"), n("Ana"), n("Isabel"), nn("Mónica", "monica"), n("Alejandra"), n("Gabriela"), n("Valeria"),
		nn("Inés", "ines"), nn("Begoña", "begona"), n("Daniela"), n("Ximena"), nn("Leticia", "leticia")},
	originVI: {nn("Hương", "huong"), nn("Thảo", "thao"), nn("Phương", "phuong"), nn("Ánh", "anh"),
		nn("Quỳnh", "quynh"), n("Linh"), nn("Ngọc", "ngoc"), nn("Trâm", "tram"), nn("Hạnh", "hanh"), n("Mai"),
		nn("Thị Lan", "thilan"), nn("Diễm", "diem")},
	originZH: {nn("Fāng", "fang"), nn("Xiùyīng", "xiuying"), nn("Jìng", "jing"), nn("Lì", "li"),
		nn("Mǐn", "min"), nn("Yàn", "yan"), nn("Xiǎohóng", "xiaohong"), nn("Huì", "hui"), nn("Wēn", "wen")},
}

var givenM = [...][]name{
	originEN: {n("James"), n("Robert"), n("John"), n("Michael"), n("David"), n("William"), n("Richard"),
		n("Joseph"), n("Thomas"), n("Christopher"), n("Daniel"), n("Matthew"), n("Anthony"), n("Joshua"),
		n("Andrew"), n("Ethan"), n("Noah"), n("Liam"), n("Tyler"), n("Brandon"), n("Kevin")},
	originES: {nn("José", "jose"), n("Juan"), n("Luis"), n("Carlos"), n("Miguel"), nn("Jesús", "jesus"),
		nn("Ramón", "ramon"), n("Francisco"), n("Alejandro"), nn("Andrés", "andres"), n("Diego"),
		nn("Joaquín", "joaquin"), n("Mateo"), nn("Héctor", "hector"), nn("Raúl", "raul")},
	originVI: {n("Minh"), nn("Tuấn", "tuan"), nn("Dũng", "dung"), nn("Đức", "duc"), nn("Hùng", "hung"),
		nn("Quang", "quang"), nn("Thắng", "thang"), nn("Long", "long"), nn("Khoa", "khoa"), nn("Bảo", "bao"),
		nn("Văn Nam", "vannam")},
	originZH: {nn("Wěi", "wei"), nn("Qiáng", "qiang"), nn("Lěi", "lei"), nn("Jūn", "jun"), nn("Yáng", "yang"),
		nn("Míng", "ming"), nn("Hào", "hao"), nn("Zhìwěi", "zhiwei"), nn("Jiànguó", "jianguo")},
}

var family = [...][]name{
	originEN: {n("Smith"), n("Johnson"), n("Williams"), n("Brown"), n("Jones"), n("Miller"), n("Davis"),
		n("Wilson"), n("Anderson"), n("Taylor"), n("Thomas"), n("Moore"), n("Jackson"), n("Martin"), n("Lee"),
		n("Thompson"), n("White"), n("Harris"), n("Clark"), n("Lewis"), n("Robinson"), n("Walker"), n("Young"),
		n("Allen"), n("King"), n("Wright"), n("Scott"), n("Hill"), n("Green"), n("Adams"), n("Baker"),
		n("O'Brien"), n("McAllister"), n("Brontë")},
	originES: {nn("García", "garcia"), nn("Rodríguez", "rodriguez"), nn("Martínez", "martinez"),
		nn("Hernández", "hernandez"), nn("López", "lopez"), nn("González", "gonzalez"), nn("Pérez", "perez"),
		nn("Sánchez", "sanchez"), n("Ramirez"), n("Torres"), n("Flores"), n("Rivera"), nn("Gómez", "gomez"),
		nn("Díaz", "diaz"), nn("Núñez", "nunez"), nn("Peña", "pena"), nn("Muñoz", "munoz"),
		nn("Ibáñez", "ibanez"), nn("Castañeda", "castaneda"), n("Villarreal"), nn("De la Cruz", "delacruz")},
	originVI: {nn("Nguyễn", "nguyen"), nn("Trần", "tran"), nn("Lê", "le"), nn("Phạm", "pham"),
		nn("Hoàng", "hoang"), nn("Huỳnh", "huynh"), nn("Võ", "vo"), nn("Đặng", "dang"), nn("Bùi", "bui"),
		nn("Đỗ", "do"), nn("Ngô", "ngo"), nn("Dương", "duong")},
	originZH: {nn("Wáng", "wang"), nn("Lǐ", "li"), nn("Zhāng", "zhang"), nn("Liú", "liu"), nn("Chén", "chen"),
		nn("Yáng", "yang"), nn("Huáng", "huang"), nn("Zhào", "zhao"), nn("Wú", "wu"), nn("Zhōu", "zhou")},
}

// hanzi gives the Chinese-character form of some family and given names, used
// for a share of patients of Chinese origin (written family name first).
var hanzi = map[string]string{
	"wang": "王", "li": "李", "zhang": "张", "liu": "刘", "chen": "陈", "yang": "杨", "huang": "黄",
	"zhao": "赵", "wu": "吴", "zhou": "周", "fang": "芳", "xiuying": "秀英", "jing": "静", "min": "敏",
	"yan": "燕", "xiaohong": "小红", "hui": "慧", "wen": "文", "wei": "伟", "qiang": "强", "lei": "磊",
	"jun": "军", "ming": "明", "hao": "浩", "zhiwei": "志伟", "jianguo": "建国",
}

var streets = []string{"Oak", "Maple", "Pecan", "Main", "Elm", "Cedar", "Mesquite", "Bluebonnet", "Magnolia",
	"Cypress", "Live Oak", "San Jacinto", "Guadalupe", "Lamar", "Congress", "Lakeview", "Ridgeway", "Sunset",
	"Willow", "Cottonwood", "Peachtree", "Prairie", "Hickory", "Jefferson", "Río Grande", "Alamo", "Bayou"}

var streetKinds = []string{"St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Way", "Trl"}

var mailDomains = []string{"example.com", "example.org", "example.net"}

// state is a US state with a few of its cities, an area code and the first
// three digits of its ZIP codes.
type state struct {
	code   string
	cities []string
	area   []string
	zip    []string
}

// states lists the states used for addresses. Sites are placed in the first
// len(siteTemplates) of them; the rest give patients who live elsewhere.
var states = []state{
	{"TX", []string{"Austin", "Round Rock", "San Marcos", "Pflugerville", "Georgetown"}, []string{"512", "737"}, []string{"787", "786"}},
	{"OK", []string{"Oklahoma City", "Norman", "Edmond", "Moore"}, []string{"405"}, []string{"730", "731"}},
	{"LA", []string{"Shreveport", "Bossier City", "Monroe", "Ruston"}, []string{"318"}, []string{"711", "712"}},
	{"NM", []string{"Albuquerque", "Rio Rancho", "Santa Fe", "Española"}, []string{"505"}, []string{"870", "871"}},
	{"AR", []string{"Little Rock", "Conway", "North Little Rock", "Benton"}, []string{"501"}, []string{"722", "720"}},
	{"KS", []string{"Wichita", "Derby", "Hutchinson", "Newton"}, []string{"316"}, []string{"672", "671"}},
	{"MO", []string{"Springfield", "Joplin", "Branson"}, []string{"417"}, []string{"658", "657"}},
	{"CO", []string{"Denver", "Aurora", "Pueblo"}, []string{"303", "720"}, []string{"802", "810"}},
	{"CA", []string{"Los Angeles", "San José", "Fresno"}, []string{"213", "408", "559"}, []string{"900", "951", "937"}},
	{"FL", []string{"Miami", "Orlando", "Tampa"}, []string{"305", "407", "813"}, []string{"331", "328", "336"}},
	{"NY", []string{"New York", "Buffalo", "Rochester"}, []string{"212", "716", "585"}, []string{"100", "142", "146"}},
	{"IL", []string{"Chicago", "Aurora", "Naperville"}, []string{"312", "630"}, []string{"606", "605"}},
	{"AZ", []string{"Phoenix", "Tucson", "Mesa"}, []string{"602", "520"}, []string{"850", "857"}},
	{"GA", []string{"Atlanta", "Savannah", "Augusta"}, []string{"404", "912"}, []string{"303", "314"}},
	{"WA", []string{"Seattle", "Spokane", "Tacoma"}, []string{"206", "509"}, []string{"981", "992"}},
	{"MN", []string{"Minneapolis", "Saint Paul", "Rochester"}, []string{"612", "651"}, []string{"554", "551"}},
}

// siteTemplates name the first sites; later sites are numbered branches in
// the same states.
var siteTemplates = []struct{ name, city string }{
	{"Riverbend Medical Laboratory – Central", "Austin"},
	{"Riverbend Lab – Crossroads", "Oklahoma City"},
	{"Riverbend Lab – Red River", "Shreveport"},
	{"Riverbend Lab – Sandía", "Albuquerque"},
	{"Riverbend Lab – Arkansas Valley", "Little Rock"},
	{"Riverbend Lab – Plains", "Wichita"},
}

// test is a LOINC-coded laboratory test and the specimen container it needs.
type test struct {
	code, display, container string
	weight                   float64
	review, sendOut          bool
}

var tests = []test{
	{"58410-2", "CBC panel - Blood by Automated count", "Whole blood (EDTA)", 10, false, false},
	{"24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma", "Serum (SST)", 9, false, false},
	{"57698-3", "Lipid panel with direct LDL - Serum or Plasma", "Serum (SST)", 6, false, false},
	{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Whole blood (EDTA)", 6, false, false},
	{"3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "Serum (SST)", 5, false, false},
	{"2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Serum (SST)", 4, false, false},
	{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Serum (SST)", 3, false, false},
	{"24356-8", "Urinalysis complete panel - Urine", "Urine", 5, false, false},
	{"5902-2", "Prothrombin time (PT)", "Plasma (sodium citrate)", 3, false, false},
	{"14979-9", "aPTT in Platelet poor plasma by Coagulation assay", "Plasma (sodium citrate)", 2, false, false},
	{"2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", "Serum (SST)", 2, false, false},
	{"94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection", "Nasopharyngeal swab", 2, false, false},
	{"11529-5", "Surgical pathology study", "Tissue in formalin", 1, true, false},
	{"10524-7", "Microscopic observation [Identifier] in Cervix by Cyto stain", "Cervical cytology (ThinPrep)", 1, true, false},
	{"5196-1", "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay", "Serum (SST)", 1, false, true},
	{"600-7", "Bacteria identified in Blood by Culture", "Blood culture bottle", 1, false, true},
}
