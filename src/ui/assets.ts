/**
 * The UI's static assets — one stylesheet, one progressive-enhancement script, one icon — kept as
 * TypeScript string constants rather than files under src/ui/static: `tsc` copies no non-TS file,
 * and the Docker image and the npm package ship only `dist/src`, so a string module is the one
 * form that is present wherever the compiled server runs, with no copy step to forget. Each asset
 * is served under a name carrying its content hash (`/ui/static/style.<hash>.css`) with a
 * one-year immutable cache, so pages fetch them once.
 *
 * The script is optional: every page works without it (forms submit, links navigate). With it:
 * the repository filter updates the results as you type, copy buttons copy pull commands, `/`
 * focuses the search box.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#4a5361;--line:#d4d9e0;--card:#f5f7fa;--accent:#0a58ca;--accent-fg:#fff;--danger:#b02a37;--ok:#146c43;--code:#eef1f5}
@media (prefers-color-scheme:dark){:root{--bg:#12151a;--fg:#e6e9ee;--muted:#a9b3c1;--line:#343b46;--card:#1b2028;--accent:#7fb0ff;--accent-fg:#0b1220;--danger:#ff8a94;--ok:#6fdba6;--code:#222833}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{margin:0}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--accent);color:var(--accent-fg);padding:.5em 1em}
.skip:focus{left:.5em}
header.top{display:flex;flex-wrap:wrap;gap:1em;align-items:center;justify-content:space-between;padding:.6em 1.2em;border-bottom:1px solid var(--line);background:var(--card)}
header.top .brand{font-weight:700;font-size:1.15em;color:var(--fg);text-decoration:none}
header.top form{margin:0}
main{max-width:1200px;margin:0 auto;padding:1em 1.2em 3em}
h1{font-size:1.5em;margin:.4em 0 .6em;word-break:break-all}
h2{font-size:1.2em;margin:1.6em 0 .5em}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.9em}
td.num,th.num{text-align:right;white-space:nowrap}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
code{background:var(--code);padding:.1em .3em;border-radius:3px;word-break:break-all}
pre{background:var(--code);padding:.8em;border-radius:4px;overflow:auto;max-height:40em}
.muted{color:var(--muted)}
.badge{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 .5em;font-size:.82em;margin:0 .2em .2em 0;white-space:nowrap}
.search{display:flex;gap:.5em;flex-wrap:wrap;align-items:center;margin:.5em 0 1em}
input[type=search],input[type=text],input[type=password]{font:inherit;padding:.4em .6em;border:1px solid var(--muted);border-radius:4px;background:var(--bg);color:var(--fg);min-width:16em}
button,.button{font:inherit;padding:.35em .9em;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:transparent;color:var(--accent)}
button.danger,.button.danger{background:var(--danger);border-color:var(--danger);color:var(--bg)}
button.link{background:none;border:none;color:var(--accent);padding:0;text-decoration:underline}
.cmds{display:grid;gap:.4em;margin:.5em 0}
.cmd{display:flex;gap:.5em;align-items:center;flex-wrap:wrap}
.cmd code{flex:1 1 30em}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.8em 1em;margin:.8em 0}
.pager{display:flex;gap:1em;align-items:center;margin:1em 0}
.flash{border-left:4px solid var(--ok);padding:.5em 1em;background:var(--card)}
.error{border-left:4px solid var(--danger);padding:.5em 1em;background:var(--card)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;word-break:break-all}
ul.plain{list-style:none;padding:0;margin:.3em 0}
.referrers{margin:.2em 0 0 1em;font-size:.9em}
form.inline{display:inline}
label{display:block;margin:.6em 0 .2em}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

const SCRIPT = `
(function(){
'use strict';
var live=document.getElementById('live');
function say(t){if(live){live.textContent='';setTimeout(function(){live.textContent=t;},30);}}
document.querySelectorAll('[data-copy]').forEach(function(b){
  b.hidden=false;
  b.addEventListener('click',function(){
    var el=document.getElementById(b.getAttribute('data-copy'));
    if(!el)return;
    var text=el.textContent||'';
    var done=function(){say('Copied: '+text);b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},1500);};
    if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done,function(){fallback(el);done();});}
    else{fallback(el);done();}
  });
});
function fallback(el){var r=document.createRange();r.selectNodeContents(el);var s=window.getSelection();s.removeAllRanges();s.addRange(r);try{document.execCommand('copy');}catch(e){}}
var box=document.querySelector('input[data-filter]');
if(box){
  var form=box.form,timer=0,seq=0;
  box.addEventListener('input',function(){
    clearTimeout(timer);
    timer=setTimeout(function(){
      var n=++seq,url=new URL(form.action,location.href);
      url.search=new URLSearchParams(new FormData(form)).toString();
      fetch(url.toString(),{headers:{Accept:'text/html'},credentials:'same-origin'}).then(function(r){return r.text();}).then(function(t){
        if(n!==seq)return;
        var doc=new DOMParser().parseFromString(t,'text/html');
        var fresh=doc.getElementById('results'),old=document.getElementById('results');
        if(fresh&&old){old.replaceWith(document.importNode(fresh,true));history.replaceState(null,'',url.pathname+url.search);say((fresh.getAttribute('data-summary')||'')); }
      });
    },180);
  });
}
document.addEventListener('keydown',function(e){
  var t=e.target,typing=t&&(t.tagName==='INPUT'||t.tagName==='TEXTAREA');
  if(e.key==='/'&&!typing){var s=document.querySelector('input[type=search]');if(s){e.preventDefault();s.focus();s.select();}}
  else if(e.key==='Escape'&&typing&&t.type==='search'){t.blur();}
});
})();
`;

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0a58ca"/><path d="M3 10h10l-2 3H5zM5 4h2v5H5zm3-1h2v6H8zm3 2h1v4h-1z" fill="#fff"/></svg>`;

export interface Asset {
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
}

function asset(base: string, ext: string, contentType: string, text: string): Asset {
  const body = Buffer.from(text.trim() + '\n', 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { name: `${base}.${hash}.${ext}`, contentType, body };
}

export const ASSETS = {
  style: asset('style', 'css', 'text/css; charset=utf-8', STYLE),
  script: asset('app', 'js', 'text/javascript; charset=utf-8', SCRIPT),
  icon: asset('icon', 'svg', 'image/svg+xml', ICON),
} as const;

export const ASSETS_BY_NAME: ReadonlyMap<string, Asset> = new Map(Object.values(ASSETS).map((a) => [a.name, a]));
