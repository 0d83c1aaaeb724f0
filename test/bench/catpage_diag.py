# test/bench/catpage_diag.py [diag.csv]: the diagnosis of the ranker on Taobao category pages
# (docs/benchmarks.md, "Category pages: what the ranker does"), from the lists that
# test/bench/catpage_diag.sh records.
import csv, math, sys, collections
csv.field_size_limit(10**9)
F = ["model_score","in_model","recent_similarity","revisit","revisit_recency","revisit_log_count","revisit_log_weight","revisit_clicked","revisit_favorited","revisit_carted","revisit_session","purchased","covisit","covisit_last","category_affinity","category_recent","category_session","brand_affinity","brand_recent","popularity","popularity_week","trend","item_newness","position","user_log_history","session_active"]
NF=len(F)
def arr(s, f=float):
    s=s.strip('{}')
    return [] if not s else [ (float('nan') if x=='NULL' else f(x)) for x in s.split(',')]
rows=list(csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else 'report/catpage_diag/diag.csv')))
def cls(v):
    # class of a candidate from its features
    if v[3]==1: return 'revisit'
    if not math.isnan(v[22]): return 'seen' + ('_inmodel' if v[1]==1 else '')
    return 'unseen'
stats=collections.defaultdict(lambda: collections.Counter())
above=collections.defaultdict(collections.Counter)
nseg=collections.Counter(); hit=collections.Counter()
comp=collections.defaultdict(collections.Counter)
for r in rows:
    items=[int(x) for x in arr(r['items'])]; ranked=[int(x) for x in arr(r['ranked'])]
    feats=arr(r['features']); n=len(items)
    fv={items[i]: feats[i*NF:(i+1)*NF] for i in range(n)}
    t=int(r['target']); seg=r['segment']
    rank=ranked.index(t)+1
    nseg[seg]+=1; hit[seg]+= rank<=10
    for it in items: comp[seg][cls(fv[it])]+=1
    for it in ranked[:rank-1]:
        above[seg][cls(fv[it])]+=1
    # top10 composition
    for it in ranked[:10]: stats[seg]['top10_'+cls(fv[it])]+=1
    stats[seg]['target_'+cls(fv[t])]+=1
for seg in nseg:
    print(seg, nseg[seg], 'HR', round(hit[seg]/nseg[seg],3))
    print('  list composition/list', {k: round(v/nseg[seg],1) for k,v in comp[seg].items()})
    print('  above target/list', {k: round(v/nseg[seg],2) for k,v in above[seg].items()})
    print('  top10/list', {k: round(v/nseg[seg],2) for k,v in stats[seg].items() if k.startswith('top10')})
    print('  target class', {k: v for k,v in stats[seg].items() if k.startswith('target')})
print()
tot=len(rows)
for K in range(0,6):
  for key in (19,20):
    h=0; hs=collections.Counter()
    for r in rows:
        items=[int(x) for x in arr(r['items'])]; ranked=[int(x) for x in arr(r['ranked'])]
        feats=arr(r['features']); n=len(items)
        fv={items[i]: feats[i*NF:(i+1)*NF] for i in range(n)}
        t=int(r['target'])
        rev=[i for i in ranked if cls(fv[i])=='revisit']
        seen=[i for i in items if cls(fv[i]).startswith('seen')]   # upstream order = popularity
        seen.sort(key=lambda i: -fv[i][key])
        uns=[i for i in ranked if cls(fv[i])=='unseen']
        order=rev+seen[:K]+uns+seen[K:]
        ok = t in order[:10]
        h+=ok; hs[r['segment']]+=ok
    print('K',K,'key',F[key],'HR',round(h/tot,4), {s: round(hs[s]/nseg[s],3) for s in nseg})
print()
for reserve in (0,1,2):
    tot_h=0.0; hs=collections.Counter()
    for r in rows:
        items=[int(x) for x in arr(r['items'])]; ranked=[int(x) for x in arr(r['ranked'])]
        feats=arr(r['features']); n=len(items)
        fv={items[i]: feats[i*NF:(i+1)*NF] for i in range(n)}
        t=int(r['target'])
        rev=[i for i in ranked if cls(fv[i])=='revisit']
        U=sum(1 for i in items if cls(fv[i])=='unseen')
        R=len(rev); c=cls(fv[t])
        if c=='revisit': h= 1.0 if rev.index(t)<10 else 0.0
        elif c.startswith('seen'): h= 1.0 if R < 10 and reserve>0 else (min(1.0,max(0,10-R)/(n-R)) if reserve==0 else 0)
        else: h= min(1.0, max(0, 10-R-reserve)/U)
        tot_h+=h; hs[r['segment']]+=h
    print('oracle seen slots',reserve,'HR',round(tot_h/len(rows),4),{s: round(hs[s]/nseg[s],3) for s in nseg})
