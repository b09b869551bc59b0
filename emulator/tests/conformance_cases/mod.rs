//! The conformance table shared by `engine_conformance.rs` (every case, through the engine
//! directly) and `interop_conformance.rs` (the cases wrapped in [`psrp`], end to end through
//! pypsrp against the emulator). Each case is a snippet, the output values (rendered with
//! `ToString()`), the other stream records in order, and how the pipeline ends.

/// How a case's pipeline ends.
#[derive(Debug)]
pub enum End {
    /// Completed without `exit`.
    Ok,
    /// Failed with (exception short name, category name).
    Fail(&'static str, &'static str),
    /// `exit N`.
    Exit(i32),
}

/// One snippet and what Windows PowerShell 5.1 gives for it.
#[derive(Debug)]
pub struct Case {
    pub script: &'static str,
    pub out: &'static [&'static str],
    /// Other records: `E:<ExceptionName>:<Category>`, `W:`, `V:`, `D:`, `I:`, `H:` (host), `P:`.
    pub streams: &'static [&'static str],
    pub end: End,
    /// Also run end to end through pypsrp (`interop_conformance.rs`).
    pub psrp: bool,
}

const fn ok(script: &'static str, out: &'static [&'static str]) -> Case {
    Case {
        script,
        out,
        streams: &[],
        end: End::Ok,
        psrp: false,
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
        psrp: false,
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
        psrp: false,
    }
}

const fn exit(script: &'static str, out: &'static [&'static str], code: i32) -> Case {
    Case {
        script,
        out,
        streams: &[],
        end: End::Exit(code),
        psrp: false,
    }
}

/// Marks a case for the end-to-end sample through pypsrp.
const fn psrp(case: Case) -> Case {
    Case { psrp: true, ..case }
}

/// Scripts run one after another in one runspace (one pypsrp RunspacePool): session state
/// survives between pipelines. `out` is what the last one writes.
#[derive(Debug)]
pub struct Session {
    pub scripts: &'static [&'static str],
    pub out: &'static [&'static str],
}

pub const SESSIONS: &[Session] = &[
    Session {
        scripts: &[
            "$counter = 41; function bump { $global:counter++ }",
            "bump",
            "$counter",
        ],
        out: &["42"],
    },
    Session {
        scripts: &["$env:STAGE = 'two'", "\"stage $env:STAGE\""],
        out: &["stage two"],
    },
    Session {
        scripts: &["'out'; exit 5", "$LASTEXITCODE"],
        out: &["5"],
    },
    Session {
        scripts: &[
            "New-Item -ItemType File -Path C:\\t\\kept.txt -Value 'kept' -Force | Out-Null",
            "Get-Content C:\\t\\kept.txt; Test-Path C:\\t",
        ],
        out: &["kept", "True"],
    },
    Session {
        scripts: &[
            "function Add-Two { param([Parameter(ValueFromPipeline)][int]$n) process { $n + 2 } }",
            "'1', 2 | Add-Two",
        ],
        out: &["3", "4"],
    },
];

pub const CASES: &[Case] = &[
    // ---- literals ----
    psrp(ok("1", &["1"])),
    psrp(ok("'single'", &["single"])),
    ok("\"double\"", &["double"]),
    ok("'it''s'", &["it's"]),
    ok("\"say \"\"hi\"\"\"", &["say \"hi\""]),
    ok("0x10", &["16"]),
    ok("1kb", &["1024"]),
    ok("2mb / 1kb", &["2048"]),
    psrp(ok("1.5", &["1.5"])),
    ok("1e3", &["1000"]),
    psrp(ok("$true", &["True"])),
    ok("$false", &["False"]),
    psrp(ok("$null", &[""])),
    ok("-5", &["-5"]),
    psrp(ok("3000000000", &["3000000000"])),
    ok("(3000000000).GetType().Name", &["Int64"]),
    ok("(1.5).GetType().Name", &["Double"]),
    ok("\"tab`there\"", &["tab\there"]),
    ok("\"a`nb\"", &["a\nb"]),
    ok("\"`$x\"", &["$x"]),
    ok("$x = 5; \"x is $x\"", &["x is 5"]),
    ok("$x = 5; 'x is $x'", &["x is $x"]),
    psrp(ok("\"sum $(1 + 2)\"", &["sum 3"])),
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
    psrp(st("1 / 0", &[], &["E:RuntimeException:NotSpecified"])),
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
    psrp(ok("'a,b,c' -split ','", &["a", "b", "c"])),
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
    psrp(ok("1..3", &["1", "2", "3"])),
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
    psrp(ok("[PSCustomObject]@{a=1; b=2}", &["@{a=1; b=2}"])),
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
    // begin/process/end blocks share one scope; `process` runs per pipeline item.
    psrp(ok("1,2,3 | & { process { $_ * 2 } }", &["2", "4", "6"])),
    ok(
        "1..3 | & { begin { 'b' } process { $_ } end { 'e' } }",
        &["b", "1", "2", "3", "e"],
    ),
    ok(
        "1..3 | & { begin { $t = 10 } process { $t += $_ } end { $t } }",
        &["16"],
    ),
    psrp(ok(
        "function Total { begin { $t = 0 } process { $t += $_ } end { \"total $t\" } }; 1..4 | Total",
        &["total 10"],
    )),
    ok(
        "function h { param([Parameter(ValueFromPipeline=$true)][int]$n) process { $n * 3 } }; '1', 2 | h",
        &["3", "6"],
    ),
    ok(
        "function c { [CmdletBinding()] param([Parameter(Mandatory)]$n) \"n=$n\" }; c 5",
        &["n=5"],
    ),
    ok("& { [CmdletBinding()] param($v) $v * 2 } 4", &["8"]),
    ok("& { [int]'7' + 1 }", &["8"]),
    ok(
        "function r { process { if ($_ -eq 2) { return }; $_ } }; 1..3 | r",
        &["1", "3"],
    ),
    ok("function f { process { \"[$_]\" } }; f", &["[]"]),
    ok(
        "function sum { $t = 0; foreach ($i in $input) { $t += $i }; $t }; 1..4 | sum",
        &["10"],
    ),
    // ---- pipelines ----
    psrp(ok("1..3 | % { $_ * 2 }", &["2", "4", "6"])),
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
    psrp(ok(
        "[pscustomobject]@{a=1;b=2;c=3} | Select-Object a, c",
        &["@{a=1; c=3}"],
    )),
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
    psrp(ok("3,1,2 | Sort-Object -Descending", &["3", "2", "1"])),
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
    psrp(ok("(1..4 | Measure-Object -Sum).Sum", &["10"])),
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
    psrp(ok("(Get-Service -Name WinRM).Status", &["Running"])),
    ok(
        "Get-WinEvent -LogName System -MaxEvents 1 | % Id",
        &["7036"],
    ),
    ok(
        "(Get-WinEvent -FilterHashtable @{LogName='Application'; Level=2}).Message",
        &["Faulting application name: app.exe, version: 1.0.0.0"],
    ),
    psrp(ok("hostname", &["SERVER01"])),
    ok("whoami", &["server01\\vagrant"]),
    ok("$env:COMPUTERNAME", &["SERVER01"]),
    ok("$PSVersionTable.PSVersion.Major", &["5"]),
    ok("$PSVersionTable.PSEdition", &["Desktop"]),
    ok("(Get-Date).GetType().Name", &["DateTime"]),
    psrp(ok(
        "[datetime]'2024-01-15 10:30:00'",
        &["1/15/2024 10:30:00 AM"],
    )),
    psrp(ok(
        "Get-Date -Year 2020 -Month 2 -Day 29 -Hour 13 -Minute 5 -Second 6 -Millisecond 0",
        &["2/29/2020 1:05:06 PM"],
    )),
    ok(
        "Get-Date -Date '2024-03-05 14:07:09' -Year 2021 -Format 'yyyy-MM-dd HH:mm:ss'",
        &["2021-03-05 14:07:09"],
    ),
    ok(
        "(Get-Date -Date '2024-01-31 10:00:00' -Month 2).ToString('yyyy-MM-dd HH:mm')",
        &["2024-02-29 10:00"],
    ),
    ok(
        "(Get-Date -Date '2024-02-10' -Day 31).ToString('yyyy-MM-dd')",
        &["2024-03-02"],
    ),
    ok("(Get-Date -Date '2024-02-29' -Year 2023).Day", &["28"]),
    ok("(Get-Date -Hour 7 -Minute 0).Hour", &["7"]),
    psrp(st(
        "Get-Date -Month 13",
        &[],
        &["E:ParameterBindingValidationException:InvalidData"],
    )),
    st(
        "Get-Date -Second -1; 'next'",
        &["next"],
        &["E:ParameterBindingValidationException:InvalidData"],
    ),
    ok("(Get-Date -Date '2024-03-05').Month", &["3"]),
    psrp(ok(
        "Get-Date -Date '2024-03-05 14:07:09' -Format 'yyyy-MM-dd HH:mm:ss'",
        &["2024-03-05 14:07:09"],
    )),
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
    // New-Item over the env: drive and the fake file system (what pypsrp's execute_ps sends
    // for `environment=`).
    psrp(ok(
        "New-Item -Path env: -Name FOO -Value bar -Force | Out-Null; $env:FOO",
        &["bar"],
    )),
    ok("(New-Item -Path env:PSRM_X -Value 1).Name", &["PSRM_X"]),
    st(
        "New-Item -Path env:COMPUTERNAME -Value x",
        &[],
        &["E:SessionStateException:ResourceExists"],
    ),
    ok(
        "New-Item -Path env:COMPUTERNAME -Value x -Force | Out-Null; $env:COMPUTERNAME",
        &["x"],
    ),
    psrp(ok(
        "$d = New-Item -ItemType Directory -Path C:\\work\\sub -Force; $d.GetType().FullName; $d.FullName; $d.PSIsContainer; Test-Path C:\\work",
        &["System.IO.DirectoryInfo", "C:\\work\\sub", "True", "True"],
    )),
    psrp(ok(
        "New-Item -ItemType Directory -Path C:\\e2e",
        &["C:\\e2e"],
    )),
    st(
        "New-Item -ItemType Directory -Path C:\\Windows",
        &[],
        &["E:IOException:ResourceExists"],
    ),
    ok(
        "(New-Item -ItemType Directory -Path C:\\Windows -Force).Name",
        &["Windows"],
    ),
    psrp(ok(
        "$f = New-Item -ItemType File -Path C:\\t\\a.txt -Value 'hi there' -Force; $f.Length; $f.Name; $f.DirectoryName; Get-Content C:\\t\\a.txt",
        &["8", "a.txt", "C:\\t", "hi there"],
    )),
    st(
        "New-Item -ItemType File -Path C:\\nodir\\a.txt",
        &[],
        &["E:DirectoryNotFoundException:WriteError"],
    ),
    st("New-Item C:\\hello.txt", &[], &["E:IOException:WriteError"]),
    ok(
        "(New-Item -Path notes.txt -Value x).FullName",
        &["C:\\Users\\vagrant\\Documents\\notes.txt"],
    ),
    st(
        "New-Item -Path HKLM:\\Software\\X",
        &[],
        &["E:DriveNotFoundException:ObjectNotFound"],
    ),
    ok(
        "Test-Path C:\\hello.txt -PathType Leaf; Test-Path C:\\nope; Test-Path env:OS",
        &["True", "False", "True"],
    ),
    ok("$r = 1..3 | % { $_ }; $r.Count", &["3"]),
    ok("$r = @(Get-Service -Name WinRM); $r.Count", &["1"]),
    // ---- streams ----
    psrp(st("Write-Warning 'careful'", &[], &["W:careful"])),
    st("Write-Verbose 'hidden'", &[], &[]),
    psrp(st("Write-Verbose 'shown' -Verbose", &[], &["V:shown"])),
    st(
        "$VerbosePreference = 'Continue'; Write-Verbose 'v'",
        &[],
        &["V:v"],
    ),
    st("Write-Debug 'dbg'", &[], &[]),
    psrp(st(
        "$DebugPreference = 'Continue'; Write-Debug 'dbg'",
        &[],
        &["D:dbg"],
    )),
    psrp(st("Write-Information 'info'", &[], &["I:info"])),
    psrp(st("Write-Host 'to host'", &[], &["H:to host"])),
    st("Write-Host 'a' 'b' -NoNewline", &[], &["H:a b"]),
    psrp(st(
        "Write-Progress -Activity 'Working' -Status 'Half' -PercentComplete 50",
        &[],
        &["P:Working"],
    )),
    st(
        "$WarningPreference = 'SilentlyContinue'; Write-Warning 'x'; 'done'",
        &["done"],
        &[],
    ),
    psrp(st(
        "Write-Error 'bad'; 'continues'",
        &["continues"],
        &["E:WriteErrorException:NotSpecified"],
    )),
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
    psrp(st(
        "fake-command; 'next'",
        &["next"],
        &["E:CommandNotFoundException:ObjectNotFound"],
    )),
    psrp(st(
        "Get-Process -Name nosuch",
        &[],
        &["E:ProcessCommandException:ObjectNotFound"],
    )),
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
    psrp(fail(
        "throw 'boom'",
        &[],
        "RuntimeException",
        "OperationStopped",
    )),
    psrp(fail(
        "'before'; throw 'boom'; 'after'",
        &["before"],
        "RuntimeException",
        "OperationStopped",
    )),
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
    psrp(ok(
        "try { fake-cmd } catch { $_.FullyQualifiedErrorId }",
        &["CommandNotFoundException"],
    )),
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
    psrp(fail(
        "$ErrorActionPreference = 'Stop'; Write-Error 'fatal'; 'never'",
        &[],
        "WriteErrorException",
        "NotSpecified",
    )),
    fail(
        "$ErrorActionPreference = 'Stop'; nosuchcmd",
        &[],
        "CommandNotFoundException",
        "ObjectNotFound",
    ),
    // ---- parse errors ----
    psrp(fail(
        "if ($true) { 'x'",
        &[],
        "ParseException",
        "ParserError",
    )),
    fail("'unterminated", &[], "ParseException", "ParserError"),
    psrp(fail("1 +", &[], "ParseException", "ParserError")),
    fail(
        "foreach ($i 1..3) { }",
        &[],
        "ParseException",
        "ParserError",
    ),
    // ---- exit ----
    psrp(exit("exit 3", &[], 3)),
    psrp(exit("'out'; exit 7; 'never'", &["out"], 7)),
    exit("function q { exit 4 }; q; 'never'", &[], 4),
    exit("exit", &[], 0),
];
