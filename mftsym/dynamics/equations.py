"""placeholder replaced below"""
def derive_dmft(spec):
    raise NotImplementedError
