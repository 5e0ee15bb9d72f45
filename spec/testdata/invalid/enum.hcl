dataset "cub" {
  kind = "cub201" # ERROR: Invalid value
}

evaluate "test" {
  models  = []
}

report "r" {
  from    = evaluate.test
  formats = ["table", "html"] # ERROR: Invalid value
}
