package printer

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.escpos and their listings from Render")

// receipts are the golden receipts: what the kiosk prints in each language
// it prints in, online and offline.
var receipts = []struct {
	name string
	r    Receipt
	o    Options
}{
	{"en-online", Receipt{
		Title: "Proof of check-in", Office: "Miami Field Office", When: "Tuesday, March 3, 2026, 9:41 AM",
		CodeLabel: "Confirmation code", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Footer: "Keep this receipt. If you have questions, ask staff at the front desk.",
	}, Options{}},
	{"en-offline", Receipt{
		Title: "Proof of check-in", Office: "Miami Field Office", When: "Tuesday, March 3, 2026, 9:41 AM",
		CodeLabel: "Confirmation code", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note: "Recorded on this kiosk; sent to the office when the network allows.",
	}, Options{}},
	{"en-58mm", Receipt{
		Title: "Proof of check-in", Office: "Miami Field Office", When: "Tuesday, March 3, 2026, 9:41 AM",
		CodeLabel: "Confirmation code", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note: "Recorded on this kiosk; sent to the office when the network allows.",
	}, Options{Columns: 32}},
	{"es", Receipt{
		Title: "Comprobante de registro", Office: "Oficina de Miami", When: "martes, 3 de marzo de 2026, 9:41",
		CodeLabel: "Código de confirmación", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note:   "Registrado en este quiosco; se enviará a la oficina cuando la red lo permita.",
		Footer: "Conserve este recibo. ¿Preguntas? Consulte al personal.",
	}, Options{}},
	{"fr", Receipt{
		Title: "Preuve d’enregistrement", Office: "Bureau de Miami", When: "mardi 3 mars 2026, 9 h 41",
		CodeLabel: "Code de confirmation", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note:   "Enregistré sur cette borne\u00a0; envoyé au bureau dès que le réseau le permet.",
		Footer: "Conservez ce reçu. Des questions\u202f? Adressez-vous à l’accueil.",
	}, Options{}},
	{"ru", Receipt{
		Title: "Подтверждение регистрации", Office: "Офис в Майами", When: "вторник, 3 марта 2026 г., 9:41",
		CodeLabel: "Код подтверждения", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note:   "Записано на этом киоске; будет отправлено в офис, когда позволит сеть.",
		Footer: "Сохраните эту квитанцию. Вопросы? Обратитесь к сотрудникам.",
	}, Options{}},
	{"uk", Receipt{
		Title: "Підтвердження реєстрації", Office: "Офіс у Маямі", When: "вівторок, 3 березня 2026 р., 9:41",
		CodeLabel: "Код підтвердження", Code: "K7Q-4M2X", QR: "SDCR1:K7Q-4M2X:2026-03-03T09:41",
		Note:   "Записано на цьому кіоску; буде надіслано до офісу, коли дозволить мережа.",
		Footer: "Збережіть цю квитанцію. Питання — до працівників.",
	}, Options{}},
}

// TestRenderGolden: Render's bytes for each language are exactly those of
// testdata/NAME.escpos, and their listing that of testdata/NAME.txt, which
// says in words what the bytes do. go test -update rewrites both.
func TestRenderGolden(t *testing.T) {
	for _, tc := range receipts {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.r, tc.o)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			l, err := disassemble(got)
			if err != nil {
				t.Fatalf("disassemble(Render) = %v", err)
			}
			text := strings.Join(l.Lines, "\n") + "\n"
			bin, txt := filepath.Join("testdata", tc.name+".escpos"), filepath.Join("testdata", tc.name+".txt")
			if *update {
				if err := os.WriteFile(bin, got, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(txt, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(bin)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				wl, err := disassemble(want)
				t.Errorf("Render(%s) differs from %s (go test -update rewrites it); got:\n%s\nwant (%v):\n%s",
					tc.name, bin, text, err, strings.Join(wl.Lines, "\n"))
			}
			wantTxt, err := os.ReadFile(txt)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if string(wantTxt) != text {
				t.Errorf("listing of %s differs from %s (go test -update rewrites it)", tc.name, txt)
			}
		})
	}
}

// TestRenderCommands reads one receipt command by command: the commands
// the ESC/POS reference asks for, in order, and every line of text.
func TestRenderCommands(t *testing.T) {
	b, err := Render(receipts[1].r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := disassemble(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ESC @          initialize",
		"ESC t 19       code page pc858",
		"ESC a 1        align centre",
		"ESC E 1        bold on",
		`text "Proof of check-in"`, "LF",
		"ESC E 0        bold off",
		`text "Miami Field Office"`, "LF",
		`text "Tuesday, March 3, 2026, 9:41 AM"`, "LF",
		"LF",
		`text "Confirmation code"`, "LF",
		"GS ! 0x11      size: width x2, height x2",
		`text "K7Q-4M2X"`, "LF",
		"GS ! 0x00      size: width x1, height x1",
		"LF",
		"GS ( k fn 165  QR model 2",
		"GS ( k fn 167  QR module size 6 dots",
		"GS ( k fn 169  QR error correction M",
		`GS ( k fn 180  QR store 31 bytes "SDCR1:K7Q-4M2X:2026-03-03T09:41"`,
		"GS ( k fn 181  QR print",
		"LF",
		`text "Recorded on this kiosk; sent to the office"`, "LF",
		`text "when the network allows."`, "LF",
		"GS V 66 0      feed to the cutter + 0, partial cut",
	}
	if !slices.Equal(l.Lines, want) {
		t.Errorf("Render(en-offline) =\n%s\nwant\n%s", strings.Join(l.Lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestRenderCodePages: each receipt selects the page its language needs
// once, and a character of another script switches page for it and back.
func TestRenderCodePages(t *testing.T) {
	for _, tc := range []struct {
		r    Receipt
		o    Options
		want []string // the ESC t lines, in order
	}{
		{Receipt{Title: "Proof of check-in"}, Options{}, []string{"ESC t 19       code page pc858"}},
		{Receipt{Title: "Comprovante de presença"}, Options{}, []string{"ESC t 19       code page pc858"}},
		{Receipt{Title: "Подтверждение"}, Options{}, []string{"ESC t 17       code page pc866"}},
		// « » are not in PC866: they print as ", rather than select a page
		// fewer printers have.
		{Receipt{Title: "«Подтверждение»"}, Options{}, []string{"ESC t 17       code page pc866"}},
		{Receipt{Title: "Підтвердження"}, Options{}, []string{"ESC t 46       code page wpc1251"}},
		{Receipt{Title: "Подтверждение", Office: "Bureau de Montréal"}, Options{},
			[]string{"ESC t 17       code page pc866", "ESC t 19       code page pc858"}},
		{Receipt{Title: "Подтверждение", Office: "Montréal", When: "вторник"}, Options{},
			[]string{"ESC t 17       code page pc866", "ESC t 19       code page pc858", "ESC t 17       code page pc866"}},
		// A printer that numbers WPC1251 49.
		{Receipt{Title: "Підтвердження"}, Options{CodePages: []CodePage{PC858, func() CodePage { c := WPC1251; c.Select = 49; return c }()}},
			[]string{"ESC t 49       code page wpc1251"}},
	} {
		b, err := Render(tc.r, tc.o)
		if err != nil {
			t.Errorf("Render(%+v) = %v", tc.r, err)
			continue
		}
		l, err := disassemble(b, tc.o.CodePages...)
		if err != nil {
			t.Errorf("disassemble(Render(%+v)) = %v", tc.r, err)
			continue
		}
		var got []string
		for _, s := range l.Lines {
			if strings.HasPrefix(s, "ESC t") {
				got = append(got, s)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Render(%+v) selects %q; want %q", tc.r, got, tc.want)
		}
	}
}

// TestRenderText: what each field prints as, line by line: look-alikes
// for punctuation a page lacks, wrapping, nothing for invisible
// characters.
func TestRenderText(t *testing.T) {
	for _, tc := range []struct {
		office string
		o      Options
		want   []string
	}{
		{"Miami", Options{}, []string{"Miami"}},
		{"l’accueil — à 9 h 30…", Options{}, []string{"l'accueil - à 9 h 30..."}},
		{"Don’t — wait…", Options{}, []string{"Don't - wait..."}},
		{"œuvre, Œil", Options{}, []string{"oeuvre, OEil"}},
		{"«Вопросы» — к сотрудникам", Options{}, []string{`"Вопросы" - к сотрудникам`}},         // PC866 has neither
		{"Питання — до «Прийому» і каси", Options{}, []string{"Питання — до «Прийому» і каси"}}, // і: WPC1251, which has — « » too
		{"soft\u00adhyphen zero\u200bwidth\r\n", Options{}, []string{"softhyphen zerowidth", ""}},
		{"one\n\ntwo", Options{}, []string{"one", "", "two"}},
		{"a   b\tc", Options{}, []string{"a b c"}},
		{strings.Repeat("word ", 10), Options{Columns: 32}, []string{"word word word word word word", "word word word word"}},
		{strings.Repeat("x", 70), Options{Columns: 32}, []string{strings.Repeat("x", 32), strings.Repeat("x", 32), "xxxxxx"}},
	} {
		b, err := Render(Receipt{Office: tc.office}, tc.o)
		if err != nil {
			t.Errorf("Render(office %q) = %v", tc.office, err)
			continue
		}
		l, err := disassemble(b)
		if err != nil {
			t.Errorf("disassemble(Render(office %q)) = %v", tc.office, err)
			continue
		}
		var got []string
		for _, p := range l.Printed {
			got = append(got, p.Text)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Render(office %q) prints %q; want %q", tc.office, got, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"abc", 10, []string{"abc"}},
		{"abc def", 7, []string{"abc def"}},
		{"abc def", 6, []string{"abc", "def"}},
		{"  abc   def  ", 6, []string{"abc", "def"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"ab abcdefghij c", 4, []string{"ab", "abcd", "efgh", "ij c"}},
		{"a\nb", 4, []string{"a", "b"}},
		{"a\n", 4, []string{"a", ""}},
		{"Підтвердження реєстрації", 16, []string{"Підтвердження", "реєстрації"}},
	} {
		var got []string
		for _, l := range wrap([]rune(tc.text), tc.width) {
			got = append(got, string(l))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("wrap(%q, %d) = %q; want %q", tc.text, tc.width, got, tc.want)
		}
	}
}

// TestCanRender: the languages the kiosk speaks, as the kiosk would
// translate a receipt. The ones that print must print; the others fall
// back to English.
func TestCanRender(t *testing.T) {
	for _, tc := range []struct {
		lang, text string
		want       bool
	}{
		{"en", "Proof of check-in. Recorded on this kiosk; sent to the office when the network allows.", true},
		{"es", "Comprobante de registro. ¿Preguntas? Registrado en este quiosco; se enviará a la oficina cuando la red lo permita. Año, niño, pingüino.", true},
		{"pt", "Comprovante de presença. Registrado neste quiosque; será enviado ao escritório quando a rede permitir. São, não, você, à, ç.", true},
		{"ht", "Prèv ke ou te anrejistre. Anrejistre sou kyòs sa a; n ap voye l bay biwo a lè rezo a pèmèt.", true},
		{"fr", "Preuve d’enregistrement. Enregistré sur cette borne\u00a0; envoyé au bureau dès que le réseau le permet. Ça, où, œuvre, « reçu ».", true},
		{"ru", "Подтверждение регистрации. Записано на этом киоске; будет отправлено в офис, когда позволит сеть. Ёлка, «№ 5» — …", true},
		{"uk", "Підтвердження реєстрації. Записано на цьому кіоску; буде надіслано до офісу, коли дозволить мережа. Ґанок, їжак, єнот, Ім’я, ІЇЄҐ.", true},
		{"ar", "إثبات تسجيل الحضور", false},
		{"zh", "签到证明", false},
		{"hi", "चेक-इन का प्रमाण", false},
		{"en+ar", "Office: مكتب", false},
		{"control", "a\x1b@b", false},
		{"C1 control", "a\u0085b", false},
		{"not UTF-8", "a\xffb", false},
		{"decomposed accent", "e\u0301", false},
		{"undefined byte of WPC1251", "\uFFFD", false},
		{"empty", "", true},
	} {
		if got := CanRender(tc.text, Options{}); got != tc.want {
			t.Errorf("CanRender(%s %q) = %v; want %v", tc.lang, tc.text, got, tc.want)
		}
		_, err := Render(Receipt{Note: tc.text}, Options{})
		if (err == nil) != tc.want {
			t.Errorf("Render(note %s %q) = %v; want an error: %v", tc.lang, tc.text, err, !tc.want)
		}
	}
	// A printer with only PC858 prints Latin scripts only.
	latin := Options{CodePages: []CodePage{PC858}}
	if !CanRender("Preuve d’enregistrement", latin) || CanRender("Подтверждение", latin) {
		t.Errorf("CanRender with PC858 alone: French %v, Russian %v; want true, false",
			CanRender("Preuve d’enregistrement", latin), CanRender("Подтверждение", latin))
	}
	// PC866 alone prints Russian, not Ukrainian: it has no і and no ґ.
	cyr := Options{CodePages: []CodePage{PC866}}
	if !CanRender("Подтверждение", cyr) || CanRender("Підтвердження", cyr) || CanRender("ґ", cyr) {
		t.Errorf("CanRender with PC866 alone: Russian %v, Ukrainian %v; want true, false",
			CanRender("Подтверждение", cyr), CanRender("Підтвердження", cyr))
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		r      Receipt
		o      Options
		want   string
		cannot bool // wraps ErrCannotRender
	}{
		{Receipt{Title: "إثبات"}, Options{}, `receipt title: U+0625 'إ': not in the printer's code pages`, true},
		{Receipt{Office: "Miami\x1b@"}, Options{}, `receipt office: U+001B '\x1b'`, true},
		{Receipt{Footer: "签到"}, Options{}, `receipt footer: U+7B7E '签'`, true},
		{Receipt{Note: "Подтверждение"}, Options{CodePages: []CodePage{PC858}}, `receipt note: U+041F 'П'`, true},
		{Receipt{Title: "x"}, Options{Columns: 40}, "receipt columns 40: want 32, 42 or 48", false},
		{Receipt{Title: "x"}, Options{CodePages: []CodePage{{Name: "mine", Select: 3}}}, `receipt code page "mine": not one of this package's`, false},
		{Receipt{QR: strings.Repeat("x", MaxQR+1)}, Options{}, "receipt qr: 2332 bytes, more than a QR code holds (2331)", false},
		{Receipt{QR: strings.Repeat("x", 1000)}, Options{Columns: 32}, "receipt qr: 1000 bytes need a version 26 symbol, 129 modules across: too wide for 32 columns", false},
	} {
		_, err := Render(tc.r, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrCannotRender) != tc.cannot {
			t.Errorf("Render(%+v) = %v; want an error saying %q (ErrCannotRender: %v)", tc.r, err, tc.want, tc.cannot)
		}
	}
}

// TestQRModule: the module is as large as fits the paper, up to 6 dots.
func TestQRModule(t *testing.T) {
	for _, tc := range []struct {
		n, columns, want int
	}{
		{0, 42, 6},
		{31, 42, 6},   // version 3: 37 modules with the quiet zone
		{31, 32, 6},   // 384 dots / 37 = 10
		{300, 32, 4},  // version 13: 77 modules, 384/77 = 4
		{300, 42, 6},  // 504/77 = 6
		{911, 42, 4},  // version 24: 121 modules, 504/121 = 4
		{998, 42, 3},  // version 26: 129 modules, 504/129 = 3
		{911, 32, 3},  // 384/121 = 3
		{2331, 48, 3}, // version 40: 185 modules, 576/185 = 3
	} {
		got, err := qrModule(tc.n, tc.columns)
		if err != nil || got != tc.want {
			t.Errorf("qrModule(%d, %d) = %d, %v; want %d", tc.n, tc.columns, got, err, tc.want)
		}
	}
	if got, err := qrModule(2331, 42); err == nil {
		t.Errorf("qrModule(2331, 42) = %d; want an error (504 dots / 185 modules < 3)", got)
	}
}

// TestCodePageBytes: characters each language needs, and the bytes the
// code pages' published charts give them.
func TestCodePageBytes(t *testing.T) {
	for _, tc := range []struct {
		page CodePage
		r    rune
		want byte
	}{
		{PC858, 'é', 0x82}, {PC858, 'ñ', 0xa4}, {PC858, '¿', 0xa8}, {PC858, 'ç', 0x87},
		{PC858, 'ã', 0xc6}, {PC858, 'õ', 0xe4}, {PC858, 'è', 0x8a}, {PC858, 'ò', 0x95},
		{PC858, '€', 0xd5}, {PC858, '«', 0xae}, {PC858, 'Ü', 0x9a}, {PC858, '\u00a0', 0xff},
		{PC866, 'А', 0x80}, {PC866, 'Я', 0x9f}, {PC866, 'а', 0xa0}, {PC866, 'п', 0xaf},
		{PC866, 'р', 0xe0}, {PC866, 'я', 0xef}, {PC866, 'Ё', 0xf0}, {PC866, 'ё', 0xf1},
		{PC866, 'є', 0xf3}, {PC866, 'ї', 0xf5}, {PC866, '№', 0xfc},
		{WPC1251, 'А', 0xc0}, {WPC1251, 'я', 0xff}, {WPC1251, 'І', 0xb2}, {WPC1251, 'і', 0xb3},
		{WPC1251, 'Ї', 0xaf}, {WPC1251, 'ї', 0xbf}, {WPC1251, 'Є', 0xaa}, {WPC1251, 'є', 0xba},
		{WPC1251, 'Ґ', 0xa5}, {WPC1251, 'ґ', 0xb4}, {WPC1251, '№', 0xb9}, {WPC1251, '—', 0x97},
		{WPC1251, '«', 0xab}, {WPC1251, '’', 0x92}, {WPC1251, '…', 0x85}, {WPC1251, '€', 0x88},
	} {
		if got, ok := tc.page.encode(tc.r); !ok || got != tc.want {
			t.Errorf("%s.encode(%q) = %#x, %v; want %#x", tc.page.Name, tc.r, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		page CodePage
		r    rune
	}{{PC858, 'П'}, {PC858, 'œ'}, {PC866, 'і'}, {PC866, 'ґ'}, {PC866, '«'}, {WPC1251, 'é'}, {WPC1251, '\uFFFD'}} {
		if b, ok := tc.page.encode(tc.r); ok {
			t.Errorf("%s.encode(%q) = %#x; want none", tc.page.Name, tc.r, b)
		}
	}
}

// TestCodePageTables: every table maps its 128 bytes to distinct printable
// characters, none ASCII, so each character has one byte and no byte of
// text is a command.
func TestCodePageTables(t *testing.T) {
	for _, c := range DefaultCodePages {
		seen := map[rune]int{}
		for i, r := range c.high {
			if r < 0xa0 && r != 0xfffd {
				t.Errorf("%s byte %#x prints %U: ASCII or a control character", c.Name, 0x80+i, r)
			}
			if j, dup := seen[r]; dup && r != 0xfffd {
				t.Errorf("%s bytes %#x and %#x both print %q", c.Name, 0x80+j, 0x80+i, r)
			}
			seen[r] = i
			if b, ok := c.encode(r); r != 0xfffd && (!ok || b != byte(0x80+i)) {
				t.Errorf("%s.encode(%q) = %#x, %v; want %#x", c.Name, r, b, ok, 0x80+i)
			}
		}
	}
}

// FuzzRender: whatever text a receipt holds, Render either refuses it as
// CanRender said it would, or sends only the commands it means to (no
// text becomes a command) with no line wider than the paper. go test runs
// the seeds; the long run is
//
//	go test -run '^$' -fuzz FuzzRender -fuzztime 10m ./drivers/printer/
func FuzzRender(f *testing.F) {
	for _, tc := range receipts {
		f.Add(tc.r.Title, tc.r.Note, tc.r.QR, 42)
	}
	f.Add("a\x1b@b", "\x1d(k", "\x10\x04\x01", 32)
	f.Add("œ—…\u00ad\r\n", "Montréal Київ", "", 48)
	f.Fuzz(func(t *testing.T, title, note, qr string, columns int) {
		o := Options{Columns: columnChoices[uint(columns)%uint(len(columnChoices))]}
		r := Receipt{Title: title, Code: title, Note: note, QR: qr}
		b, err := Render(r, o)
		can := CanRender(title, o) && CanRender(note, o)
		if errors.Is(err, ErrCannotRender) != !can {
			t.Fatalf("Render = %v; CanRender = %v", err, can)
		}
		if err != nil {
			return
		}
		l, err := disassemble(b)
		if err != nil {
			t.Fatalf("disassemble(Render(%+v)) = %v", r, err)
		}
		for _, p := range l.Printed {
			if p.Width > o.Columns {
				t.Fatalf("line %q takes %d columns of %d", p.Text, p.Width, o.Columns)
			}
		}
		cmds := l.commands()
		if cmds[0] != "ESC @          initialize" || cmds[len(cmds)-1] != "GS V 66 0      feed to the cutter + 0, partial cut" {
			t.Fatalf("Render does not start with ESC @ and end with a cut: %q", cmds)
		}
	})
}
