# Nested for expressions multiply: 1024^3 values from one line. Each step of a for
# expression is charged, so evaluation ends once the budget is spent.
dataset "cub" {
  kind   = "cub200"
  subset = length([for a in range(1024) : [for b in range(1024) : [for c in range(1024) : c]]]) # ERROR: Evaluation budget exceeded
}
