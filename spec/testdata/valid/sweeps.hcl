# A sweep over nested values: a shared schedule with one field overridden by merge(), and a
# matrix over a schedule field and a loss field (also a fuzz seed).
locals {
  schedule = { epochs = 20, batch_size = 90, lr = 1e-5, tau = [10, 15], gamma = 0.1 }
}

dataset "d" { kind = "synthetic" }

train "fast" {
  dataset  = dataset.d
  seeds    = [0, 1]
  schedule = merge(local.schedule, { lr = 3e-3, warmup = 1 })
  loss "oproxy" { mode = "nca" }
}

train "sweep" {
  dataset  = dataset.d
  seeds    = [0, 1]
  schedule = local.schedule
  matrix   = { "schedule.gamma" = [0.1, 0.3], "loss.w_align" = [0.005, 0.01] }
  loss "nir" { cblocks = 3 }
}

evaluate "test" {
  models  = [train.fast, train.sweep]
  metrics = ["e_recall@1", "nmi"]
}
