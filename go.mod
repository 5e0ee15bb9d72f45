module dmlrun

go 1.26
