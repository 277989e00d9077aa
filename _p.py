import numpy as np, time
from mftsym.solve.learning_curves import *
for a,b in [(1.5,1.5),(3,1.2),(2.5,2.0),(6,1.5)]:
    t=time.time()
    P=np.logspace(3,4,8)
    c=power_law_curve(P,a,b,n_modes=400000)
    s,e=fit_slope(P,c.Eg)
    print(a,b,-s,e,power_law_exponent(a,b),time.time()-t)
