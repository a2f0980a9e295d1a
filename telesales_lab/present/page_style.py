"""One style sheet for every page of the report: screen and A4 print.

Used by the notebooks' HTML template (``report.py``), the index and the coaching pages.
Wide tables wrap (cells break long words) and never reach past the page; figures scale
down to the page width; headings stay with what follows them; the navigation bar (back
link and table of contents) prints as well.
"""

CSS = """
.tl-nav{font-size:.9em;margin:0 0 1em;padding:.4em .6em;background:#f5f7fa;border:1px solid #dde3ea;border-radius:4px}
.tl-nav a{margin-right:.8em}
.tl-nav ol{margin:.3em 0 0 1.2em;padding:0;columns:2}
.tl-summary{display:flex;flex-wrap:wrap;gap:.8em;margin:.6em 0 1.2em}
.tl-card{flex:1 1 26rem;max-width:100%;border:1px solid #c9d3df;border-left:4px solid #4C72B0;border-radius:4px;
 padding:.4em .8em;background:#fbfcfe;break-inside:avoid;page-break-inside:avoid}
.tl-card h3{margin:.2em 0 .3em;font-size:1.05em}
.tl-headline{font-weight:600;font-size:1.05em;margin:.2em 0}
.tl-card ul{margin:.2em 0 .2em 1.1em;padding:0}
table.tl-table{border-collapse:collapse;max-width:100%;table-layout:auto;margin:.3em 0 1em;font-size:.88em}
table.tl-table th,table.tl-table td{border-bottom:1px solid #e1e4e8;padding:.2em .5em;
 white-space:normal;overflow-wrap:anywhere;vertical-align:top}
table.tl-table th{background:#f3f5f8}
table.tl-table td,table.tl-table th{text-align:left}
table.tl-table caption{font-size:.85em}
.tl-heat{margin:.2em 0 .8em}
table.tl-heat caption{text-align:left;font-weight:600;padding:.2em 0}
div.tl-heat table.tl-heat td{text-align:center;vertical-align:middle;min-width:2.6em}
div.tl-heat table.tl-heat{table-layout:auto}
div.tl-heat table.tl-heat th{text-align:left;vertical-align:middle}
div.tl-heat table.tl-heat td,div.tl-heat table.tl-heat th{padding:.25em .4em}
div.tl-heat table.tl-heat tbody th{min-width:6em}
.tl-heat-key span{display:inline-block;min-width:2.2em;text-align:center;padding:0 .2em}
.jp-OutputArea-output table{max-width:100%}
.jp-OutputArea-output th,.jp-OutputArea-output td{white-space:normal;overflow-wrap:anywhere}
img,svg{max-width:100%;height:auto}
.jp-OutputArea-output{overflow-x:visible}
.tl-space{border:1px solid #bbb;min-height:7em;margin:.3em 0 1em}
@page{size:A4;margin:12mm 11mm}
@media print{
 body{font-size:10pt;max-width:none !important;margin:0 !important}
 .jp-Cell,.jp-OutputArea,.jp-OutputArea-output,.jp-RenderedHTMLCommon,main{overflow:visible !important;
  max-width:100% !important;padding:0 !important}
 table{font-size:7.5pt;width:auto;max-width:100%}
 th,td{padding:.1em .3em !important;overflow-wrap:anywhere}
 h1,h2,h3,h4{break-after:avoid;page-break-after:avoid}
 tr,img,svg,.tl-card{break-inside:avoid;page-break-inside:avoid}
 .jp-Cell:has(h2),.jp-Cell:has(h3){break-after:avoid;page-break-after:avoid}
 a{color:inherit;text-decoration:none}
}
"""
