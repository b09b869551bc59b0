// A masterzen/winrm client for emulator/tests/interop_winrs.rs.
//
// Usage: winrm_go <host> <port> <user> <basic|ntlm> <command>; the password comes from
// PSRM_TEST_PASSWORD.
// Prints `OK <exit code> <base64 stdout> <base64 stderr>` (empty output is `-`) or
// `ERROR <text>`.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"

	"github.com/masterzen/winrm"
)

func b64(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return base64.StdEncoding.EncodeToString(b)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Println("ERROR usage: winrm_go <host> <port> <user> <basic|ntlm> <command>")
		return
	}
	port, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Println("ERROR bad port")
		return
	}
	endpoint := winrm.NewEndpoint(os.Args[1], port, false, false, nil, nil, nil, 0)
	params := *winrm.DefaultParameters
	if os.Args[4] == "ntlm" {
		params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	}
	client, err := winrm.NewClientWithParameters(endpoint, os.Args[3], os.Getenv("PSRM_TEST_PASSWORD"), &params)
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		return
	}
	var stdout, stderr bytes.Buffer
	code, err := client.Run(os.Args[5], &stdout, &stderr)
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		return
	}
	fmt.Printf("OK %d %s %s\n", code, b64(stdout.Bytes()), b64(stderr.Bytes()))
}
