module tsor.test/gohttp

go 1.19
