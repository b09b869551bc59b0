@'
here
string
'@