import numpy as np, time, mftsym
from mftsym.spec import Spec
from mftsym.solve.curves import spec_learning_curve, target_function
toml = '''
[network]
input_dim = 4
[[network.layers]]
type = "dense"
width = 64
weight_var = 2.0
bias_var = 0.1
[[network.layers]]
type = "activation"
fn = "relu"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
[posterior]
noise_var = "0.01"
'''
spec = Spec.from_toml_string(toml)
d=4; target="sin(z) + 0.5*z**2"; noise=0.05; ridge=0.01
Ps = np.unique(np.logspace(0.7, 3.2, 8).astype(int))
t=time.time()
th = spec_learning_curve(spec, Ps, target=target, ridge=ridge, noise=noise, lmax=60)
print("theory", time.time()-t)
g = target_function(spec, target)
rng = np.random.default_rng(1)
def sph(n):
    x = rng.standard_normal((n,d)); return x*np.sqrt(d)/np.linalg.norm(x,axis=1,keepdims=True)
xt = sph(3000); ft = g(xt[:,0])
for P, E in zip(Ps, th.Eg):
    errs=[]
    for r in range(20):
        x = sph(P); y = g(x[:,0]) + np.sqrt(noise)*rng.standard_normal(P)
        K = mftsym.kernel(spec, x); ks = mftsym.kernel(spec, xt, x)
        f = ks @ np.linalg.solve(K + ridge*np.eye(P), y)
        errs.append(np.mean((f-ft)**2))
    errs=np.array(errs); m=errs.mean(); se=errs.std(ddof=1)/np.sqrt(len(errs))
    print(P, E, m, se, (E-m)/se)
print(time.time()-t)
