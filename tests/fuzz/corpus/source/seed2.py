class M(Module):
	def f(self, a: int) -> int:
		return - - ~a if a not in [1] else a ** -a ** 2
