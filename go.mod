module github.com/wagate/wagate

go 1.26.0
