variable "needed" {} # ERROR: No value for required variable

variable "bad" {
  default = var.needed # ERROR: Variables not allowed
  colour  = "red" # ERROR: Unsupported argument
}

dataset "my cub" { # ERROR: Invalid block name
  kind = "cub200"
}
