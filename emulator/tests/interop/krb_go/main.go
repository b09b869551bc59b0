// A WS-Man client authenticating with Kerberos through jcmturner/gokrb5 v8: alice's TGT from
// her password (client.NewWithPassword, AS exchange with the test KDC), then spnego.Client:
// `Authorization: Negotiate <SPNEGO NegTokenInit(krb5, AP-REQ)>`, no mutual authentication,
// plaintext SOAP (gokrb5 has no WinRM message encryption). Driven by
// emulator/tests/interop_kerberos.rs.
//
// Usage: krb_go URL USER REALM SPN MODE   (password in $PSRM_TEST_PASSWORD, krb5.conf in
// $KRB5_CONFIG). MODE `client`: spnego.Client (answers a 401 `Negotiate` challenge with a new
// AP-REQ, and retries for as long as it gets one); MODE `once`: spnego.SetSPNEGOHeader on each
// request, sent once with a plain http.Client.
// Creates a cmd shell, runs `hostname`, receives its output.
// Prints one line: `OK <rc> <b64 stdout> -`, `HTTP <status>` or `ERROR <text>`.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

const ns = `xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"`

func envelope(url, action, selector, body string) string {
	return `<s:Envelope ` + ns + `><s:Header>` +
		`<a:To>` + url + `</a:To>` +
		`<w:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` +
		`<a:ReplyTo><a:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
		`<a:Action s:mustUnderstand="true">` + action + `</a:Action>` +
		`<w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize>` +
		`<a:MessageID>uuid:` + fmt.Sprintf("%08d-0000-4000-8000-000000000000", len(action)+len(body)) + `</a:MessageID>` +
		`<w:OperationTimeout>PT20S</w:OperationTimeout>` + selector +
		`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

func main() {
	if len(os.Args) != 6 {
		fmt.Println("ERROR usage: krb_go URL USER REALM SPN MODE")
		return
	}
	url, user, realm, spn, mode := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	cfg, err := config.Load(os.Getenv("KRB5_CONFIG"))
	if err != nil {
		fmt.Println("ERROR krb5.conf:", err)
		return
	}
	cl := client.NewWithPassword(user, realm, os.Getenv("PSRM_TEST_PASSWORD"), cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		fmt.Println("ERROR login:", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	hc := spnego.NewClient(cl, nil, spn)
	post := func(body string) (int, string, error) {
		req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		var resp *http.Response
		if mode == "once" {
			if err := spnego.SetSPNEGOHeader(cl, req, spn); err != nil {
				return 0, "", err
			}
			resp, err = http.DefaultClient.Do(req)
		} else {
			resp, err = hc.Do(req)
		}
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	const transfer = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
	const shell = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
	status, body, err := post(envelope(url, transfer+"Create", "",
		`<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`))
	if err != nil || status != 200 {
		fmt.Println("ERROR create:", status, err, body)
		return
	}
	m := regexp.MustCompile(`<w:Selector Name="ShellId">([^<]+)</w:Selector>`).FindStringSubmatch(body)
	if m == nil {
		m = regexp.MustCompile(`ShellId>([^<]+)<`).FindStringSubmatch(body)
	}
	if m == nil {
		fmt.Println("ERROR no shell id:", body)
		return
	}
	sel := `<w:SelectorSet><w:Selector Name="ShellId">` + m[1] + `</w:Selector></w:SelectorSet>`
	status, body, err = post(envelope(url, shell+"Command", sel,
		`<rsp:CommandLine><rsp:Command>hostname</rsp:Command></rsp:CommandLine>`))
	if err != nil || status != 200 {
		fmt.Println("ERROR command:", status, err, body)
		return
	}
	c := regexp.MustCompile(`CommandId>([^<]+)<`).FindStringSubmatch(body)
	if c == nil {
		fmt.Println("ERROR no command id:", body)
		return
	}
	var out bytes.Buffer
	rc := -1
	for i := 0; i < 20 && rc < 0; i++ {
		status, body, err = post(envelope(url, shell+"Receive", sel,
			`<rsp:Receive><rsp:DesiredStream CommandId="`+c[1]+`">stdout stderr</rsp:DesiredStream></rsp:Receive>`))
		if err != nil || status != 200 {
			fmt.Println("ERROR receive:", status, err, body)
			return
		}
		for _, s := range regexp.MustCompile(`<rsp:Stream Name="stdout"[^>]*>([^<]*)</rsp:Stream>`).FindAllStringSubmatch(body, -1) {
			d, _ := base64.StdEncoding.DecodeString(s[1])
			out.Write(d)
		}
		if e := regexp.MustCompile(`ExitCode>(-?\d+)<`).FindStringSubmatch(body); e != nil {
			rc, _ = strconv.Atoi(e[1])
		}
	}
	post(envelope(url, transfer+"Delete", sel, ""))
	enc := base64.StdEncoding.EncodeToString(out.Bytes())
	if enc == "" {
		enc = "-"
	}
	fmt.Println("OK", rc, enc, "-")
}
