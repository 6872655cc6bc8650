/* Sync settings: the DisplayName example follows the ticked name parts (the same rule as
   portal.services.environments.display_name_preview: company, then first + last, kept apart by the
   separator; nothing to show gives first + last; the Fusebill id always added). */
(function () {
  "use strict";

  function preview(example, ticked) {
    var d = example.dataset;
    var person = [];
    if (ticked.first_name && d.first) { person.push(d.first); }
    if (ticked.last_name && d.last) { person.push(d.last); }
    var chosen = [];
    if (ticked.company_name && d.company) { chosen.push(d.company); }
    if (person.length) { chosen.push(person.join(" ")); }
    var name = chosen.length ? chosen.join(d.separator) : d.first + " " + d.last;
    return name + " (FB-" + d.fusebillId + ")";
  }

  function update(example, boxes) {
    var ticked = {};
    boxes.forEach(function (box) { ticked[box.value] = box.checked; });
    example.textContent = preview(example, ticked);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var example = document.getElementById("name-preview");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=display_name_parts]"));
    if (!example || !boxes.length) { return; }
    boxes.forEach(function (box) { box.addEventListener("change", function () { update(example, boxes); }); });
    update(example, boxes);
  });
}());
