variable "root" { default = "/data" }

locals {
  a = local.b # ERROR: Local value cycle
  b = local.a
  c = local.nope # ERROR: Reference to undeclared local value
}

dataset "cub" {
  kind = "cub200"
  root = "${var.rooot}/cub" # ERROR: Reference to undeclared input variable
}

dataset "cars" {
  kind   = "cars196"
  root   = dataset.cub # ERROR: Block reference in a value
  subset = foo + 1 # ERROR: Unknown variable
}

dataset "sop" {
  kind   = "online_products"
  subset = 1 / "x" # ERROR: Invalid operand
}
