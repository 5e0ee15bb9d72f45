variable "x" { default = 1 }
variable "x" { default = 2 } # ERROR: Duplicate variable declaration

dataset "cub" { kind = "cub200" }
dataset "cub" { kind = "cars196" } # ERROR: Duplicate dataset block

train "nir" {
  dataset = dataset.cub
  loss "nir" {}
  loss "oproxy" {} # ERROR: Duplicate loss block
}

locals { a = 1 }
locals { a = 2 } # ERROR: Duplicate local value
