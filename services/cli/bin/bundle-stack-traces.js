'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS that node runs as it is, before any loader */
// Stack traces of the bundle name the .ts files and lines, as under tsx, through the bundle's own source map
// only. Node's switch (process.setSourceMapsEnabled) is all or nothing: it also loads the source map of every
// npm package that ships one (OpenTelemetry's...), measured ~8 MB of RSS on an idle service; and it reads
// each map when the module loads. Here the bundle's map is read the first time a stack is formatted, if ever.
const fs = require('node:fs');
const path = require('node:path');
const { SourceMap } = require('node:module');

function install(bundleFile) {
  let map;
  const sourceMap = () => {
    if (map === undefined) {
      try {
        const payload = JSON.parse(fs.readFileSync(`${bundleFile}.map`, 'utf8'));
        const dir = path.dirname(bundleFile);
        payload.sources = payload.sources.map((s) => path.resolve(dir, s));
        map = new SourceMap(payload);
      } catch {
        map = null; // no map: frames keep the bundle's lines
      }
    }
    return map;
  };

  const frameText = (frame) => {
    const text = String(frame);
    if (frame.getFileName() !== bundleFile) return text;
    const line = frame.getLineNumber();
    const column = frame.getColumnNumber();
    const entry = line && column && sourceMap() ? sourceMap().findEntry(line - 1, column - 1) : undefined;
    if (!entry || entry.originalSource === undefined) return text;
    // The frame as V8 writes it ("async ", "new ", method and alias), only its place replaced.
    return text.replace(`${bundleFile}:${line}:${column}`, `${entry.originalSource}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
  };

  Error.prepareStackTrace = (error, frames) => {
    let header;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = '<error>';
    }
    try {
      return header + frames.map((f) => `\n    at ${frameText(f)}`).join('');
    } catch {
      return header + frames.map((f) => `\n    at ${f}`).join('');
    }
  };
}

module.exports = { install };
