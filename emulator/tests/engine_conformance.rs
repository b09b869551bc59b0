//! Table-driven conformance of the PowerShell subset against Windows PowerShell 5.1 behaviour:
//! each case is a snippet, the output values (rendered with `ToString()`), the other stream
//! records in order, and how the pipeline ends.

use emulator::engine::{CollectingHost, PipelineState, Runspace, StreamRecord, Value};

#[derive(Debug)]
enum End {
    Ok,
    /// Failed with (exception short name, category name).
    Fail(&'static str, &'static str),
    Exit(i32),
}

struct Case {
    script: &'static str,
    out: &'static [&'static str],
    /// Other records: `E:<ExceptionName>:<Category>`, `W:`, `V:`, `D:`, `I:`, `H:` (host), `P:`.
    streams: &'static [&'static str],
    end: End,
}

const fn ok(script: &'static str, out: &'static [&'static str]) -> Case {
    Case {
        script,
        out,
        streams: &[],
        end: End::Ok,
    }
}

const fn st(
    script: &'static str,
    out: &'static [&'static str],
    streams: &'static [&'static str],
) -> Case {
    Case {
        script,
        out,
        streams,
        end: End::Ok,
    }
}

const fn fail(
    script: &'static str,
    out: &'static [&'static str],
    exc: &'static str,
    cat: &'static str,
) -> Case {
    Case {
        script,
        out,
        streams: &[],
        end: End::Fail(exc, cat),
    }
}

const fn exit(script: &'static str, out: &'static [&'static str], code: i32) -> Case {
    Case {
        script,
        out,
        streams: &[],
        end: End::Exit(code),
    }
}

const CASES: &[Case] = &[
    // ---- literals ----
    ok("1", &["1"]),
    ok("'single'", &["single"]),
    ok("\"double\"", &["double"]),
    ok("'it''s'", &["it's"]),
    ok("\"say \"\"hi\"\"\"", &["say \"hi\""]),
    ok("0x10", &["16"]),
    ok("1kb", &["1024"]),
    ok("2mb / 1kb", &["2048"]),
    ok("1.5", &["1.5"]),
    ok("1e3", &["1000"]),
    ok("$true", &["True"]),
    ok("$false", &["False"]),
    ok("$null", &[""]),
    ok("-5", &["-5"]),
    ok("3000000000", &["3000000000"]),
    ok("(3000000000).GetType().Name", &["Int64"]),
    ok("(1.5).GetType().Name", &["Double"]),
    ok("\"tab`there\"", &["tab\there"]),
    ok("\"a`nb\"", &["a\nb"]),
    ok("\"`$x\"", &["$x"]),
    ok("$x = 5; \"x is $x\"", &["x is 5"]),
    ok("$x = 5; 'x is $x'", &["x is $x"]),
    ok("\"sum $(1 + 2)\"", &["sum 3"]),
    ok("$a = 1,2,3; \"$a\"", &["1 2 3"]),
    ok("$h = @{a=1}; \"v=$($h.a)\"", &["v=1"]),
    ok("$n = 'World'; \"Hello ${n}!\"", &["Hello World!"]),
    ok("@\"\nline1\nline2\n\"@", &["line1\nline2"]),
    ok("$v = 'x'; @\"\nv=$v\n\"@", &["v=x"]),
    ok("@'\nraw $v\n'@", &["raw $v"]),
    // ---- arithmetic ----
    ok("1 + 2", &["3"]),
    ok("10 - 4", &["6"]),
    ok("6 * 7", &["42"]),
    ok("10 / 4", &["2.5"]),
    ok("10 / 5", &["2"]),
    ok("(10 / 5).GetType().Name", &["Int32"]),
    ok("7 % 3", &["1"]),
    ok("2 + 3 * 4", &["14"]),
    ok("(2 + 3) * 4", &["20"]),
    ok("0.1 + 0.2", &["0.3"]),
    ok("[int]::MaxValue + 1", &["2147483648"]),
    ok("'ab' * 3", &["ababab"]),
    ok("'a' + 1", &["a1"]),
    ok("1 + '2'", &["3"]),
    ok("[int]'5' + 1", &["6"]),
    ok("'5' + 1", &["51"]),
    ok("$x = 1; $x += 2; $x", &["3"]),
    ok("$x = 10; $x -= 3; $x *= 2; $x", &["14"]),
    ok("$i = 1; $i++; $i", &["2"]),
    ok("$i = 5; $i--; $i", &["4"]),
    ok("(1,2) + 3", &["1", "2", "3"]),
    ok("-(3)", &["-3"]),
    ok("5 -band 3", &["1"]),
    ok("5 -bor 3", &["7"]),
    st("1 / 0", &[], &["E:RuntimeException:NotSpecified"]),
    // ---- comparison ----
    ok("'a' -eq 'A'", &["True"]),
    ok("'a' -ceq 'A'", &["False"]),
    ok("1 -eq 1", &["True"]),
    ok("1 -ne 2", &["True"]),
    ok("5 -gt 3", &["True"]),
    ok("5 -lt 3", &["False"]),
    ok("3 -ge 3", &["True"]),
    ok("2 -le 1", &["False"]),
    ok("'10' -lt 9", &["True"]),
    ok("10 -lt '9'", &["False"]),
    ok("1,2,3,4 -gt 2", &["3", "4"]),
    ok("1,2,3 -eq 2", &["2"]),
    ok("'abc' -like 'a*'", &["True"]),
    ok("'abc' -like 'A?C'", &["True"]),
    ok("'abc' -notlike 'b*'", &["True"]),
    ok("'abc' -clike 'A*'", &["False"]),
    ok("'hello123' -match '\\d+'", &["True"]),
    ok("'hello123' -match '(\\d+)'; $Matches[1]", &["True", "123"]),
    ok(
        "'key=value' -match '(?<k>\\w+)=(?<v>\\w+)'; $Matches.v",
        &["True", "value"],
    ),
    ok("'abc' -notmatch 'x'", &["True"]),
    ok("1,2,3 -contains 2", &["True"]),
    ok("1,2,3 -notcontains 5", &["True"]),
    ok("2 -in 1,2,3", &["True"]),
    ok("'x' -notin 'a','b'", &["True"]),
    ok("$null -eq $null", &["True"]),
    ok("$null -eq 0", &["False"]),
    ok("'abc' -is [string]", &["True"]),
    ok("5 -is [int]", &["True"]),
    ok("'5' -as [int]", &["5"]),
    ok("'x' -as [int]", &[""]),
    // ---- string operators ----
    ok("'a','b','c' -join ','", &["a,b,c"]),
    ok("-join ('a','b')", &["ab"]),
    ok("'a,b,c' -split ','", &["a", "b", "c"]),
    ok("-split ' a  b '", &["a", "b"]),
    ok("'a1b2' -replace '\\d', '#'", &["a#b#"]),
    ok(
        "'John Smith' -replace '(\\w+) (\\w+)', '$2, $1'",
        &["Smith, John"],
    ),
    ok("'Hello' -replace 'L', 'x'", &["Hexxo"]),
    ok("'{0}-{1}' -f 'a', 'b'", &["a-b"]),
    ok("'{0:N2}' -f 1234.5", &["1,234.50"]),
    ok("'{0,5}|' -f 42", &["   42|"]),
    ok("'{0:D3}' -f 7", &["007"]),
    // ---- logical ----
    ok("$true -and $false", &["False"]),
    ok("$true -or $false", &["True"]),
    ok("-not $true", &["False"]),
    ok("!$false", &["True"]),
    ok("$true -xor $true", &["False"]),
    ok("(1 -eq 1) -and ('a' -eq 'a')", &["True"]),
    // ---- arrays, ranges, indexing ----
    ok("1..3", &["1", "2", "3"]),
    ok("3..1", &["3", "2", "1"]),
    ok("@(1,2,3).Count", &["3"]),
    ok("@().Count", &["0"]),
    ok("$a = 1,2,3; $a[0]", &["1"]),
    ok("$a = 1,2,3; $a[-1]", &["3"]),
    ok("$a = 1,2,3; $a[5]", &[""]),
    ok("$a = 10,20,30; $a[0,2]", &["10", "30"]),
    ok("$a = @(); $a += 1; $a += 2; $a.Count", &["2"]),
    ok("'hello'[1]", &["e"]),
    ok("(1..10).Length", &["10"]),
    ok("$a = ,1; $a.Count", &["1"]),
    ok("$x = 'one'; $x.Count", &["1"]),
    ok("$null.Count", &["0"]),
    ok("$a = 1,2; $a[1] = 5; $a", &["1", "5"]),
    // ---- hashtables and objects ----
    ok("$h = @{a=1; b='two'}; $h.a", &["1"]),
    ok("$h = @{a=1; b='two'}; $h['b']", &["two"]),
    ok("$h = @{a=1}; $h.Count", &["1"]),
    ok("$h = @{}; $h.x = 5; $h.x", &["5"]),
    ok("$h = @{}; $h['k'] = 'v'; $h.K", &["v"]),
    ok("$h = @{a=1}; $h.ContainsKey('A')", &["True"]),
    ok("$h = @{}; $h.Add('k', 1); $h.Add('j', 2); $h.Count", &["2"]),
    ok("$h = @{a=1; b=2}; $h.Remove('a'); $h.Keys", &["b"]),
    st(
        "$h = @{a=1}; $h.Add('a', 2)",
        &[],
        &["E:RuntimeException:NotSpecified"],
    ),
    ok(
        "$l = New-Object System.Collections.ArrayList; [void]$l.Add('x'); $l.Count",
        &["1"],
    ),
    ok("$h = [ordered]@{z=1; a=2}; $h.Keys", &["z", "a"]),
    ok("$o = [PSCustomObject]@{Name='n'; Id=1}; $o.Name", &["n"]),
    ok("[PSCustomObject]@{a=1; b=2}", &["@{a=1; b=2}"]),
    ok("$o = [PSCustomObject]@{a=1}; $o.a = 2; $o.a", &["2"]),
    ok("$o = [pscustomobject]@{a=1}; $o.missing", &[""]),
    ok(
        "$list = @([pscustomobject]@{n=1}, [pscustomobject]@{n=2}); $list.n",
        &["1", "2"],
    ),
    ok("(New-Object PSObject -Property @{x=3}).x", &["3"]),
    ok("@{a=1} + @{b=2} | ForEach-Object { $_.Count }", &["2"]),
    // ---- casts ----
    ok("[int]'42'", &["42"]),
    ok("[int]2.5", &["2"]),
    ok("[int]3.5", &["4"]),
    ok("[string]42", &["42"]),
    ok("([string]42).GetType().FullName", &["System.String"]),
    ok("[bool]'false'", &["True"]),
    ok("[bool]0", &["False"]),
    ok("[char]65", &["A"]),
    ok("[double]'1.25'", &["1.25"]),
    ok("([datetime]'2024-01-15').Year", &["2024"]),
    ok("([datetime]'2024-01-15 10:30:00').Hour", &["10"]),
    ok("[int[]]('1','2') | ForEach-Object { $_ + 1 }", &["2", "3"]),
    ok("[math]::Round(2.5)", &["2"]),
    ok("[math]::Round(3.14159, 2)", &["3.14"]),
    ok("[math]::Max(3, 7)", &["7"]),
    ok("[string]::Join('-', @('a','b'))", &["a-b"]),
    ok("[string]::IsNullOrEmpty('')", &["True"]),
    st(
        "[int]'abc'",
        &[],
        &["E:PSInvalidCastException:InvalidArgument"],
    ),
    // ---- string methods ----
    ok("'Hello'.ToUpper()", &["HELLO"]),
    ok("'Hello'.ToLower()", &["hello"]),
    ok("'  x  '.Trim()", &["x"]),
    ok("'Hello'.Substring(1, 3)", &["ell"]),
    ok("'Hello'.Length", &["5"]),
    ok("'a-b-c'.Split('-')", &["a", "b", "c"]),
    ok("'Hello'.Replace('l', 'L')", &["HeLLo"]),
    ok("'Hello'.Contains('ell')", &["True"]),
    ok("'Hello'.StartsWith('He')", &["True"]),
    ok("'Hello'.EndsWith('x')", &["False"]),
    ok("'Hello'.IndexOf('l')", &["2"]),
    ok("'7'.PadLeft(3, '0')", &["007"]),
    ok("(5).ToString()", &["5"]),
    ok("'x'.GetType().Name", &["String"]),
    st("$null.Foo()", &[], &["E:RuntimeException:InvalidOperation"]),
    // ---- control flow ----
    ok("if ($true) { 'yes' } else { 'no' }", &["yes"]),
    ok("if (0) { 'a' } elseif ('') { 'b' } else { 'c' }", &["c"]),
    ok("$x = 5; if ($x -gt 3) { 'big' }", &["big"]),
    ok("foreach ($i in 1..3) { $i * 10 }", &["10", "20", "30"]),
    ok(
        "foreach ($i in 1..5) { if ($i -eq 3) { continue }; $i }",
        &["1", "2", "4", "5"],
    ),
    ok(
        "foreach ($i in 1..5) { if ($i -eq 3) { break }; $i }",
        &["1", "2"],
    ),
    ok("for ($i = 0; $i -lt 3; $i++) { $i }", &["0", "1", "2"]),
    ok("$i = 0; while ($i -lt 3) { $i; $i++ }", &["0", "1", "2"]),
    ok("$i = 0; do { $i; $i++ } while ($i -lt 2)", &["0", "1"]),
    ok("$i = 0; do { $i++ } until ($i -ge 4); $i", &["4"]),
    ok(
        "switch (2) { 1 { 'one' } 2 { 'two' } default { 'other' } }",
        &["two"],
    ),
    ok("switch ('x') { 'a' { 1 } default { 'dflt' } }", &["dflt"]),
    ok(
        "switch -wildcard ('hello') { 'h*' { 'starts-h' } }",
        &["starts-h"],
    ),
    ok(
        "switch -regex ('abc123') { '\\d+' { 'digits' } }",
        &["digits"],
    ),
    ok(
        "switch (1,2,3) { 2 { 'two' } default { $_ } }",
        &["1", "two", "3"],
    ),
    ok(
        ":outer foreach ($i in 1..3) { foreach ($j in 1..3) { if ($j -eq 2) { continue outer }; \"$i$j\" } }",
        &["11", "21", "31"],
    ),
    // ---- functions and script blocks ----
    ok("function f { 'in f' }; f", &["in f"]),
    ok("function add($a, $b) { $a + $b }; add 2 3", &["5"]),
    ok("function g { param($x, $y = 10) $x + $y }; g 1", &["11"]),
    ok(
        "function g { param($x, $y) \"$x-$y\" }; g -y 2 -x 1",
        &["1-2"],
    ),
    ok(
        "function s { param([switch]$On) if ($On) { 'on' } else { 'off' } }; s; s -On",
        &["off", "on"],
    ),
    ok("function t { param([int]$n) $n * 2 }; t '21'", &["42"]),
    ok("function r { return 5; 'never' }; r", &["5"]),
    ok("function m { 1; 2 }; (m).Count", &["2"]),
    ok("function a { $args.Count }; a x y z", &["3"]),
    ok("$sb = { param($v) $v * 2 }; & $sb 4", &["8"]),
    ok("$sb = { 'called' }; $sb.Invoke()", &["called"]),
    ok("$x = 1; & { $x = 2 }; $x", &["1"]),
    ok("$x = 1; . { $x = 2 }; $x", &["2"]),
    ok(
        "function inc { process { $_ + 1 } }; 1..3 | inc",
        &["2", "3", "4"],
    ),
    ok("filter dbl { $_ * 2 }; 1,2 | dbl", &["2", "4"]),
    ok(
        "function sum { $t = 0; foreach ($i in $input) { $t += $i }; $t }; 1..4 | sum",
        &["10"],
    ),
    // ---- pipelines ----
    ok("1..3 | % { $_ * 2 }", &["2", "4", "6"]),
    ok("1..3 | ForEach-Object { $PSItem + 1 }", &["2", "3", "4"]),
    ok("1..5 | Where-Object { $_ % 2 -eq 0 }", &["2", "4"]),
    ok("1..5 | ? { $_ -gt 3 }", &["4", "5"]),
    ok(
        "Get-Service | Where-Object Status -eq 'Stopped' | ForEach-Object Name",
        &["BITS", "W32Time"],
    ),
    ok(
        "Get-Service | Where-Object -Property Name -Like 'Win*' | Select-Object -ExpandProperty Name",
        &["WinRM"],
    ),
    ok("1..10 | Select-Object -First 3", &["1", "2", "3"]),
    ok("1..10 | Select-Object -Last 2", &["9", "10"]),
    ok("1..10 | Select-Object -Skip 8", &["9", "10"]),
    ok("1,1,2 | Select-Object -Unique", &["1", "2"]),
    ok(
        "[pscustomobject]@{a=1;b=2;c=3} | Select-Object a, c",
        &["@{a=1; c=3}"],
    ),
    ok(
        "[pscustomobject]@{a=1;b=2} | Select-Object -Property b",
        &["@{b=2}"],
    ),
    ok(
        "[pscustomobject]@{a=1} | Select-Object -Property @{Name='double'; Expression={ $_.a * 2 }}",
        &["@{double=2}"],
    ),
    ok(
        "[pscustomobject]@{n='x'} | Select-Object -ExpandProperty n",
        &["x"],
    ),
    ok("3,1,2 | Sort-Object", &["1", "2", "3"]),
    ok("3,1,2 | Sort-Object -Descending", &["3", "2", "1"]),
    ok("'b','A','c' | Sort-Object", &["A", "b", "c"]),
    ok(
        "@([pscustomobject]@{n=2}, [pscustomobject]@{n=1}) | Sort-Object n | % n",
        &["1", "2"],
    ),
    ok(
        "@([pscustomobject]@{n=2}, [pscustomobject]@{n=1}) | Sort-Object -Property n -Descending | % { $_.n }",
        &["2", "1"],
    ),
    ok("(1..4 | Measure-Object).Count", &["4"]),
    ok("(1..4 | Measure-Object -Sum).Sum", &["10"]),
    ok("(1..4 | Measure-Object -Average).Average", &["2.5"]),
    ok(
        "$m = 3,9,4 | Measure-Object -Maximum -Minimum; \"$($m.Maximum) $($m.Minimum)\"",
        &["9 3"],
    ),
    ok(
        "(@([pscustomobject]@{v=2}, [pscustomobject]@{v=5}) | Measure-Object -Property v -Sum).Sum",
        &["7"],
    ),
    ok(
        "'a','b','a' | Group-Object | ForEach-Object { \"$($_.Name)=$($_.Count)\" }",
        &["a=2", "b=1"],
    ),
    ok(
        "1..3 | ForEach-Object -Begin { 'start' } -Process { $_ } -End { 'end' }",
        &["start", "1", "2", "3", "end"],
    ),
    ok("1,2 | Write-Output", &["1", "2"]),
    ok("Write-Output 'a' 'b'", &["a", "b"]),
    ok("Write-Output 1,2,3 | Measure-Object | % Count", &["3"]),
    ok("1..3 | Out-Null", &[]),
    ok("$null = 5; 'after'", &["after"]),
    ok("[void](1 + 1); 'only'", &["only"]),
    ok("'text' | Out-String", &["text\r\n"]),
    ok("(Get-Process).Count -gt 3", &["True"]),
    ok("Get-Process -Name svchost | % Id", &["788"]),
    ok("Get-Process -Name 'ws*' | % ProcessName", &["wsmprovhost"]),
    ok("(Get-Service -Name WinRM).Status", &["Running"]),
    ok(
        "Get-WinEvent -LogName System -MaxEvents 1 | % Id",
        &["7036"],
    ),
    ok(
        "(Get-WinEvent -FilterHashtable @{LogName='Application'; Level=2}).Message",
        &["Faulting application name: app.exe, version: 1.0.0.0"],
    ),
    ok("hostname", &["SERVER01"]),
    ok("whoami", &["server01\\vagrant"]),
    ok("$env:COMPUTERNAME", &["SERVER01"]),
    ok("$PSVersionTable.PSVersion.Major", &["5"]),
    ok("$PSVersionTable.PSEdition", &["Desktop"]),
    ok("(Get-Date).GetType().Name", &["DateTime"]),
    ok("(Get-Date -Date '2024-03-05').Month", &["3"]),
    ok(
        "Get-Date -Date '2024-03-05 14:07:09' -Format 'yyyy-MM-dd HH:mm:ss'",
        &["2024-03-05 14:07:09"],
    ),
    ok(
        "(([datetime]'2024-01-02') - ([datetime]'2024-01-01')).TotalHours",
        &["24"],
    ),
    ok("([datetime]'2024-01-31').AddDays(1).Month", &["2"]),
    ok("$x = 7; Get-Variable -Name x -ValueOnly", &["7"]),
    ok("$x = 7; (Get-Variable x).Value", &["7"]),
    ok("Set-Variable -Name y -Value 9; $y", &["9"]),
    ok("Invoke-Expression '2 + 2'", &["4"]),
    ok("@{a=1} | ConvertTo-Json -Compress", &["{\"a\":1}"]),
    ok("Get-Content C:\\hello.txt", &["hello world"]),
    ok("$r = 1..3 | % { $_ }; $r.Count", &["3"]),
    ok("$r = @(Get-Service -Name WinRM); $r.Count", &["1"]),
    // ---- streams ----
    st("Write-Warning 'careful'", &[], &["W:careful"]),
    st("Write-Verbose 'hidden'", &[], &[]),
    st("Write-Verbose 'shown' -Verbose", &[], &["V:shown"]),
    st(
        "$VerbosePreference = 'Continue'; Write-Verbose 'v'",
        &[],
        &["V:v"],
    ),
    st("Write-Debug 'dbg'", &[], &[]),
    st(
        "$DebugPreference = 'Continue'; Write-Debug 'dbg'",
        &[],
        &["D:dbg"],
    ),
    st("Write-Information 'info'", &[], &["I:info"]),
    st("Write-Host 'to host'", &[], &["H:to host"]),
    st("Write-Host 'a' 'b' -NoNewline", &[], &["H:a b"]),
    st(
        "Write-Progress -Activity 'Working' -Status 'Half' -PercentComplete 50",
        &[],
        &["P:Working"],
    ),
    st(
        "$WarningPreference = 'SilentlyContinue'; Write-Warning 'x'; 'done'",
        &["done"],
        &[],
    ),
    st(
        "Write-Error 'bad'; 'continues'",
        &["continues"],
        &["E:WriteErrorException:NotSpecified"],
    ),
    st(
        "Write-Error 'bad' -ErrorAction SilentlyContinue; 'quiet'",
        &["quiet"],
        &[],
    ),
    st(
        "Write-Error -Message 'x' -Category InvalidData",
        &[],
        &["E:WriteErrorException:InvalidData"],
    ),
    st(
        "fake-command; 'next'",
        &["next"],
        &["E:CommandNotFoundException:ObjectNotFound"],
    ),
    st(
        "Get-Process -Name nosuch",
        &[],
        &["E:ProcessCommandException:ObjectNotFound"],
    ),
    st(
        "Get-Service -Name nosuch",
        &[],
        &["E:ServiceCommandException:ObjectNotFound"],
    ),
    st(
        "Get-Variable -Name nosuchvar",
        &[],
        &["E:ItemNotFoundException:ObjectNotFound"],
    ),
    st(
        "Write-Output 'o'; Write-Warning 'w'; Write-Output 'p'",
        &["o", "p"],
        &["W:w"],
    ),
    st(
        "Write-Error 'e' 2>&1 | ForEach-Object { $_.GetType().Name }",
        &["ErrorRecord"],
        &[],
    ),
    st(
        "$ErrorActionPreference = 'SilentlyContinue'; Write-Error 'x'; $Error.Count",
        &["1"],
        &[],
    ),
    st(
        "1 / 0; 'after'",
        &["after"],
        &["E:RuntimeException:NotSpecified"],
    ),
    // ---- errors and try/catch ----
    fail("throw 'boom'", &[], "RuntimeException", "OperationStopped"),
    fail(
        "'before'; throw 'boom'; 'after'",
        &["before"],
        "RuntimeException",
        "OperationStopped",
    ),
    ok(
        "try { throw 'boom' } catch { $_.Exception.Message }",
        &["boom"],
    ),
    ok(
        "try { throw 'boom' } catch { 'caught' } finally { 'finally' }",
        &["caught", "finally"],
    ),
    ok("try { 'body' } finally { 'fin' }", &["body", "fin"]),
    ok(
        "try { fake-cmd } catch [System.Management.Automation.CommandNotFoundException] { 'cnf' }",
        &["cnf"],
    ),
    ok(
        "try { fake-cmd } catch { $_.FullyQualifiedErrorId }",
        &["CommandNotFoundException"],
    ),
    ok(
        "try { fake-cmd } catch { $_.CategoryInfo.Category }",
        &["ObjectNotFound"],
    ),
    ok(
        "try { Write-Error 'nt' -ErrorAction Stop } catch { 'stopped: ' + $_.Exception.Message }",
        &["stopped: nt"],
    ),
    ok(
        "$ErrorActionPreference = 'Stop'; try { Write-Error 'x' } catch { 'caught' }",
        &["caught"],
    ),
    ok("try { 1 / 0 } catch { 'div' }", &["div"]),
    ok("try { [int]'x' } catch { 'cast' }", &["cast"]),
    ok(
        "try { throw 'a' } catch [System.IO.IOException] { 'io' } catch { 'other' }",
        &["other"],
    ),
    ok(
        "try { try { throw 'inner' } finally { 'f1' } } catch { 'outer ' + $_ }",
        &["f1", "outer inner"],
    ),
    fail(
        "$ErrorActionPreference = 'Stop'; Write-Error 'fatal'; 'never'",
        &[],
        "WriteErrorException",
        "NotSpecified",
    ),
    fail(
        "$ErrorActionPreference = 'Stop'; nosuchcmd",
        &[],
        "CommandNotFoundException",
        "ObjectNotFound",
    ),
    // ---- parse errors ----
    fail("if ($true) { 'x'", &[], "ParseException", "ParserError"),
    fail("'unterminated", &[], "ParseException", "ParserError"),
    fail("1 +", &[], "ParseException", "ParserError"),
    fail(
        "foreach ($i 1..3) { }",
        &[],
        "ParseException",
        "ParserError",
    ),
    // ---- exit ----
    exit("exit 3", &[], 3),
    exit("'out'; exit 7; 'never'", &["out"], 7),
    exit("function q { exit 4 }; q; 'never'", &[], 4),
    exit("exit", &[], 0),
];

fn render(r: &StreamRecord) -> Option<String> {
    Some(match r {
        StreamRecord::Output(_) => return None,
        StreamRecord::Error(e) => format!("E:{}:{}", e.exception_name(), e.category.name()),
        StreamRecord::Warning(w) => format!("W:{w}"),
        StreamRecord::Verbose(w) => format!("V:{w}"),
        StreamRecord::Debug(w) => format!("D:{w}"),
        StreamRecord::Information(i) if i.is_host() => format!("H:{}", i.text()),
        StreamRecord::Information(i) => format!("I:{}", i.text()),
        StreamRecord::Progress(p) => format!("P:{}", p.activity),
        other => format!("?:{other:?}"),
    })
}

#[test]
fn conformance_table() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    let mut failures = Vec::new();
    for case in CASES {
        let mut rs = Runspace::new(Default::default());
        let host = CollectingHost::new();
        let outcome = rs.run_script(case.script, None, &host);
        let records = host.drain();
        let out: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                StreamRecord::Output(v) => Some(v.to_string()),
                _ => None,
            })
            .collect();
        let streams: Vec<String> = records.iter().filter_map(render).collect();
        let end_ok = match (&case.end, &outcome.state, outcome.exit_code) {
            (End::Ok, PipelineState::Completed, None) => true,
            (End::Exit(c), PipelineState::Completed, Some(x)) => *c == x,
            (End::Fail(exc, cat), PipelineState::Failed(rec), _) => {
                rec.exception_name() == *exc && rec.category.name() == *cat
            }
            _ => false,
        };
        if out != case.out || streams != case.streams || !end_ok {
            failures.push(format!(
                "{:?}\n   out: {:?} (want {:?})\n   streams: {:?} (want {:?})\n   end: {:?} exit {:?} (want {:?})",
                case.script, out, case.out, streams, case.streams, outcome.state, outcome.exit_code, case.end
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn command_not_found_has_powershell_message_and_target() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script("nosuch-thing", None, &host);
    let recs = host.drain();
    let Some(StreamRecord::Error(e)) = recs.first() else {
        panic!("no error record: {recs:?}")
    };
    assert_eq!(
        e.message,
        "The term 'nosuch-thing' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    );
    assert_eq!(
        e.exception_type,
        "System.Management.Automation.CommandNotFoundException"
    );
    assert_eq!(e.fully_qualified_error_id, "CommandNotFoundException");
    assert_eq!(
        e.category_info(),
        "ObjectNotFound: (nosuch-thing:String) [], CommandNotFoundException"
    );
    let pos = e.position.as_ref().expect("position");
    assert_eq!((pos.line, pos.column, pos.length), (1, 1, 12));
}

#[test]
fn variables_and_functions_persist_across_pipelines() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script(
        "$counter = 41; function bump { $global:counter++ }",
        None,
        &host,
    );
    rs.run_script("bump", None, &host);
    let o = rs.run_script("$counter", None, &host);
    assert_eq!(o.state, PipelineState::Completed);
    let out: Vec<_> = host
        .drain()
        .into_iter()
        .filter_map(|r| {
            if let StreamRecord::Output(v) = r {
                Some(v)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(out, vec![Value::Int(42)]);
    assert_eq!(rs.variable("counter"), Some(Value::Int(42)));
}

#[test]
fn outputs_keep_their_types() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script(
        "1; 'two'; 3.5; $true; [pscustomobject]@{Name='n'; Id=7}; @{k='v'}; [datetime]'2024-01-01'",
        None,
        &host,
    );
    let out: Vec<_> = host
        .drain()
        .into_iter()
        .filter_map(|r| {
            if let StreamRecord::Output(v) = r {
                Some(v)
            } else {
                None
            }
        })
        .collect();
    assert!(matches!(out[0], Value::Int(1)));
    assert!(matches!(&out[1], Value::String(s) if s == "two"));
    assert!(matches!(out[2], Value::Double(d) if d == 3.5));
    assert!(matches!(out[3], Value::Bool(true)));
    let Value::Object(o) = &out[4] else {
        panic!("{:?}", out[4])
    };
    assert_eq!(
        o.type_names[0],
        "System.Management.Automation.PSCustomObject"
    );
    assert_eq!(
        o.properties,
        vec![
            ("Name".to_owned(), Value::str("n")),
            ("Id".to_owned(), Value::Int(7))
        ]
    );
    assert!(matches!(&out[5], Value::Hashtable(h) if h.get("K") == Some(&Value::str("v"))));
    let Value::DateTime(d) = &out[6] else {
        panic!()
    };
    assert_eq!(d.to_iso(), "2024-01-01T00:00:00.0000000+00:00");
}
