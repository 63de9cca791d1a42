print("cluster-bench: not yet implemented")
