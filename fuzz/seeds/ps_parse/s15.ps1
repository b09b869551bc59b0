# comment
<# block
comment #> switch (3) { 1 {"a"} default {"d"} }