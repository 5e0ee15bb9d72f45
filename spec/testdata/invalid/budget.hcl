# Ten local values that each refer to the previous one ten times: 10^10 values from about
# 1 KB, which ran for hours. Evaluation stops where the file's budget of 1,000,000 values
# runs out, at the local that crosses it; the locals after it fail with it, and so do
# arguments that read them, while arguments that read nothing are still checked.
locals {
  a0 = "xxxxxxxxxx"
  a1 = [local.a0, local.a0, local.a0, local.a0, local.a0, local.a0, local.a0, local.a0, local.a0, local.a0]
  a2 = [local.a1, local.a1, local.a1, local.a1, local.a1, local.a1, local.a1, local.a1, local.a1, local.a1]
  a3 = [local.a2, local.a2, local.a2, local.a2, local.a2, local.a2, local.a2, local.a2, local.a2, local.a2]
  a4 = [local.a3, local.a3, local.a3, local.a3, local.a3, local.a3, local.a3, local.a3, local.a3, local.a3]
  a5 = [local.a4, local.a4, local.a4, local.a4, local.a4, local.a4, local.a4, local.a4, local.a4, local.a4]
  a6 = [local.a5, local.a5, local.a5, local.a5, local.a5, local.a5, local.a5, local.a5, local.a5, local.a5] # ERROR: Evaluation budget exceeded
  a7 = [local.a6, local.a6, local.a6, local.a6, local.a6, local.a6, local.a6, local.a6, local.a6, local.a6]
  a8 = [local.a7, local.a7, local.a7, local.a7, local.a7, local.a7, local.a7, local.a7, local.a7, local.a7]
  a9 = [local.a8, local.a8, local.a8, local.a8, local.a8, local.a8, local.a8, local.a8, local.a8, local.a8]
  a10 = [local.a9, local.a9, local.a9, local.a9, local.a9, local.a9, local.a9, local.a9, local.a9, local.a9]
}

dataset "cub" {
  kind   = "cub200"
  subset = length(local.a10)
  colour = "red" # ERROR: Unsupported argument
}

train "t" {
  dataset   = dataset.cub
  embed_dim = 0 # ERROR: Value out of range
  loss "nir" {}
}
