dataset "cub" {
  kind = "cub201" # ERROR: Invalid value
}

evaluate "test" {
  models  = [] # ERROR: Empty reference list
}

report "r" {
  from    = evaluate.test
  formats = ["table", "html"] # ERROR: Invalid value
}
